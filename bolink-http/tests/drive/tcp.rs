//! The TCP link against a raw client: every answer as the public server
//! code writes it.

use std::time::Duration;

use bolink_http::simulator::RateLimit;
use bolink_sign::{sdk_http, Key};
use serde_json::{json, Value};

use super::*;

const SILENCE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn heartbeats_are_answered_only_after_login() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    lot.send("0x11").await;
    assert_eq!(
        lot.frame_within(SILENCE).await,
        None,
        "no answer before login"
    );
    let token = lot.login("lane-1").await;
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    lot.send("0x11").await;
    assert_eq!(lot.frame().await, "0x12");
    // The server's test: "0x11" in a line shorter than 6 characters.
    lot.send(" 0x11").await;
    assert_eq!(lot.frame().await, "0x12");
    lot.send("0x11 0x11").await;
    assert_eq!(lot.frame_within(SILENCE).await, None);
    assert_eq!(sim.live_sessions().len(), 1);
}

#[tokio::test]
async fn every_refusal_is_answered_in_the_servers_words() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    // A lane upload as the server reads it (2.14: channel_id and operate_type).
    let gate = r#"{"channel_id":"A1","passname":"east","operate_type":1}"#;
    let status = |errmsg: &str| json!({"state": 0, "errmsg": errmsg});
    assert_eq!(
        lot.ask(r#"{"sign":"AB","data":{}}"#).await,
        status("未识别到service_name标记")
    );
    assert_eq!(
        lot.ask(r#"{"service_name":"upload_gate","data":{}}"#).await,
        status("未识别到sign标记")
    );
    let untokened = sdk_http::build("upload_gate", None, gate, &key()).unwrap();
    assert_eq!(
        lot.ask(std::str::from_utf8(&untokened).unwrap()).await,
        status("未识别到token标记")
    );
    assert_eq!(
        lot.upload("0123456789abcdef0123456789abcdef", "upload_gate", gate)
            .await,
        status("error:token无效")
    );
    let forged = sdk_http::build("upload_gate", Some(&token), gate, &Key::new("wrong")).unwrap();
    assert_eq!(
        lot.ask(std::str::from_utf8(&forged).unwrap()).await,
        status("error:签名错误")
    );
    // The server compares with the upper-case hex: a lower-case sign is wrong.
    let lower =
        String::from_utf8(sdk_http::build("upload_gate", Some(&token), gate, &key()).unwrap())
            .unwrap();
    let sign = bolink_sign::sign(gate.as_bytes(), &key());
    let sign = std::str::from_utf8(&sign.as_hex()).unwrap().to_string();
    let lower = lower.replace(&sign, &sign.to_lowercase());
    assert_eq!(lot.ask(&lower).await, status("error:签名错误"));
    // A data that is no object (here a string, signed as the server reads it).
    let text_sign = bolink_sign::sign(b"not an object", &key());
    let odd = format!(
        r#"{{"service_name":"upload_gate","sign":"{}","token":"{token}","data":"not an object"}}"#,
        std::str::from_utf8(&text_sign.as_hex()).unwrap()
    );
    assert_eq!(lot.ask(&odd).await, status("data error"));
    // What is not JSON is not answered; the connection keeps serving.
    lot.send("hello").await;
    assert_eq!(lot.frame_within(SILENCE).await, None);
    let answer = lot.upload(&token, "upload_gate", gate).await;
    assert_eq!(answer["state"], 1, "{answer}");
    assert_eq!(answer["channel_id"], "A1");
    let reasons: Vec<String> = sim.rejected().into_iter().map(|r| r.reason).collect();
    for reason in ["未识别到sign标记", "error:token无效", "data error"] {
        assert!(reasons.iter().any(|r| r == reason), "{reason}: {reasons:?}");
    }
    assert!(
        reasons.iter().any(|r| r.contains("not a JSON object")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_refused_login_is_answered_then_closed() {
    let sim = start(fast()).await;
    let login = |park: &str, key: &Key| {
        let data = format!(r#"{{"union_id":"{UNION}","park_id":"{park}","local_id":"x"}}"#);
        String::from_utf8(sdk_http::build("login", None, &data, key).unwrap()).unwrap()
    };
    let refusal = |errmsg: &str| json!({"state": 0, "errmsg": errmsg, "service_name": "login"});
    let mut wrong_key = RawTcp::connect(&sim).await;
    assert_eq!(
        wrong_key.ask(&login(PARK, &Key::new("guessed"))).await,
        refusal("error:签名错误")
    );
    assert!(wrong_key.closed_within(Duration::from_secs(3)).await);
    let mut unknown = RawTcp::connect(&sim).await;
    assert_eq!(
        unknown.ask(&login("99999", &key())).await,
        refusal("error:云平台车场不存在")
    );
    assert!(unknown.closed_within(Duration::from_secs(3)).await);
    let mut no_park = RawTcp::connect(&sim).await;
    let body = sdk_http::build("login", None, r#"{"union_id":"200208"}"#, &key()).unwrap();
    assert_eq!(
        no_park.ask(std::str::from_utf8(&body).unwrap()).await,
        json!({"state": 0, "errmsg": "未识别到park_id标记"})
    );
    assert!(no_park.closed_within(Duration::from_secs(3)).await);
    // A park id that is neither registered nor a number: answered, kept open.
    let mut named = RawTcp::connect(&sim).await;
    assert_eq!(
        named.ask(&login("lot-x", &key())).await,
        json!({"state": 0, "errmsg": "车场不存在"})
    );
    assert!(!named.closed_within(SILENCE).await);
    named.login("lane-1").await;
    assert_eq!(sim.logins(), 1);
}

#[tokio::test]
async fn a_re_sent_upload_is_already_processed() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    let first = lot.upload(&token, "in_park", &entry("o-1", 20)).await;
    assert_eq!(
        first,
        json!({"service_name": "in_park", "state": 1, "errmsg": "", "order_id": "o-1"})
    );
    // The same frame again: its sign was seen.
    let again = lot.upload(&token, "in_park", &entry("o-1", 20)).await;
    assert_eq!(
        again,
        json!({
            "state": 0,
            "errmsg": "数据已处理过...",
            "service_name": "in_park",
            "order_id": "o-1",
            "car_number": "京A12345",
        })
    );
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.deliveries()[&format!("{PARK}/in_park:o-1")], 2);
    // A watched service without a token is a re-send too, before the
    // token is even looked for (TempUtil lines 71-77).
    let untokened = sdk_http::build("in_park", None, &entry("o-9", 1), &key()).unwrap();
    let answer = lot.ask(std::str::from_utf8(&untokened).unwrap()).await;
    assert_eq!(answer["errmsg"], "数据已处理过...");
    assert_eq!(answer["order_id"], "o-9");
    // The third upload_order of one token and order, each under its own
    // sign (another key order), is a re-send: "handled twice".
    let order = |variant: u8| match variant {
        0 => r#"{"order_id":"u-1","car_number":"京A1"}"#,
        1 => r#"{"car_number":"京A1","order_id":"u-1"}"#,
        _ => r#"{"order_id":"u-1","car_number":"京A1","uid":"9"}"#,
    };
    let mut answers = Vec::new();
    for variant in 0..3 {
        let answer = lot.upload(&token, "upload_order", order(variant)).await;
        answers.push(answer["errmsg"].clone());
    }
    assert_eq!(answers[2], "数据已处理过...", "{answers:?}");
    assert_ne!(answers[1], "数据已处理过...", "{answers:?}");
}

#[tokio::test]
async fn an_entry_the_park_has_is_refused_as_the_cloud_does() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    assert_eq!(
        lot.upload(&token, "in_park", &entry("o-2", 20)).await["state"],
        1
    );
    // The same order under another sign (another empty_plot).
    assert_eq!(
        lot.upload(&token, "in_park", &entry("o-2", 19)).await,
        json!({"service_name": "in_park", "state": 0, "errmsg": "该订单已经存在", "order_id": "o-2"})
    );
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.in_park().len(), 1);
}

#[tokio::test]
async fn past_the_tokens_limit_it_is_request_over_times() {
    let sim = start(fast().rate_limit(Some(RateLimit::new(3, Duration::from_secs(30))))).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    for i in 0..3 {
        let answer = lot
            .upload(&token, "in_park", &entry(&format!("o-{i}"), 20))
            .await;
        assert_eq!(answer["state"], 1, "{answer}");
    }
    assert_eq!(
        lot.upload(&token, "in_park", &entry("o-3", 20)).await,
        json!({"state": 0, "errmsg": "request_over_times"})
    );
    // Per token: another instance is not limited.
    let mut other = RawTcp::connect(&sim).await;
    let token = other.login("lane-2").await;
    assert_eq!(
        other.upload(&token, "in_park", &entry("o-4", 20)).await["state"],
        1
    );
}

#[tokio::test]
async fn answers_to_downstream_messages_get_an_empty_frame() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    let answer = r#"{"service_name":"month_member_sync","data_target":"cloud","state":1,"errmsg":"","card_id":"7"}"#;
    let body = sdk_http::build("month_member_sync", Some(&token), answer, &key()).unwrap();
    lot.send(std::str::from_utf8(&body).unwrap()).await;
    assert_eq!(lot.frame().await, "");
    // So are services the server does not dispatch.
    let body = sdk_http::build("upload_ticket", Some(&token), "{}", &key()).unwrap();
    lot.send(std::str::from_utf8(&body).unwrap()).await;
    assert_eq!(lot.frame().await, "");
}

#[tokio::test]
async fn uploads_over_tcp_land_in_the_books_http_uploads_do() {
    let sim = start(fast()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/bpd/upload.do", sim.base_url());
    let data = format!(r#"{{"union_id":"{UNION}","park_id":"{PARK}","local_id":"desk"}}"#);
    let login = sdk_http::build("login", None, &data, &key()).unwrap();
    let reply: Value = http
        .post(&url)
        .body(login)
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    let http_token = reply["token"].as_str().unwrap().to_string();
    let upload = sdk_http::build("in_park", Some(&http_token), &entry("o-h", 20), &key()).unwrap();
    let reply: Value = http
        .post(&url)
        .body(upload)
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(reply["state"], 1);
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    assert_eq!(
        lot.upload(&token, "in_park", &entry("o-t", 20)).await["state"],
        1
    );
    // The entry sent over HTTP is one the park has, over TCP too.
    let again = lot.upload(&token, "in_park", &entry("o-h", 21)).await;
    assert_eq!(again["errmsg"], "该订单已经存在");
    let orders: Vec<String> = sim.in_park().into_iter().map(|o| o.order_id).collect();
    assert_eq!(orders, ["o-h", "o-t"]);
    assert_eq!(sim.received().len(), 2);
    assert_eq!(sim.deliveries()[&format!("{PARK}/in_park:o-h")], 2);
    // An exit over TCP ends the entry made over HTTP.
    let exit = r#"{"service_name":"out_park","car_number":"京A12345","in_time":1490875218,"out_time":1490878818,"uid":"880099","pay_type":"cash","empty_plot":21,"total":"5.00","order_id":"o-h","amount_receivable":"5.00","auth_code":"","out_channel_id":"B1"}"#;
    let answer = lot.upload(&token, "out_park", exit).await;
    assert_eq!(answer["state"], 1, "{answer}");
    assert_eq!(answer["order_id"], "o-h");
    let orders: Vec<String> = sim.in_park().into_iter().map(|o| o.order_id).collect();
    assert_eq!(orders, ["o-t"]);
}

#[tokio::test]
async fn an_invalid_upload_lists_its_violations() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    let answer = lot.upload(&token, "in_park", r#"{"order_id":"o-1"}"#).await;
    assert_eq!(answer["state"], 0);
    assert_eq!(answer["service_name"], "in_park");
    let errmsg = answer["errmsg"].as_str().unwrap();
    assert!(
        errmsg.starts_with("error:") && errmsg.contains("car_number: required"),
        "{errmsg}"
    );
    assert!(sim.received().is_empty());
    // Under its own name it is taken.
    assert_eq!(
        lot.upload(&token, "in_park", &named_entry("o-1")).await["state"],
        1
    );
}

#[tokio::test]
async fn a_line_over_1024_bytes_is_dropped_and_the_next_answered() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    let padded = format!(r#"{{"service_name":"x","pad":"{}"}}"#, "p".repeat(2000));
    lot.send(&padded).await;
    assert_eq!(lot.frame_within(SILENCE).await, None);
    assert_eq!(
        lot.upload(&token, "in_park", &entry("o-1", 20)).await["state"],
        1
    );
    assert!(sim
        .rejected()
        .iter()
        .any(|r| r.reason.contains("over 1024 bytes")));
}

#[tokio::test]
async fn a_closed_connection_logs_its_session_out() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    assert_eq!(sim.live_sessions().len(), 1);
    drop(lot);
    eventually("the session ends with its connection", || {
        sim.live_sessions().is_empty()
    })
    .await;
    let mut again = RawTcp::connect(&sim).await;
    assert_eq!(
        again.upload(&token, "in_park", &entry("o-1", 20)).await,
        json!({"state": 0, "errmsg": "error:token无效"})
    );
}

#[tokio::test]
async fn entries_are_relayed_to_the_parks_syncdata_instances() {
    let sim = start(fast()).await;
    let mut desk = RawTcp::connect(&sim).await;
    let token = desk.login("desk").await;
    let mut mirror = RawTcp::connect(&sim).await;
    mirror.login("mirror_syncdata").await;
    assert_eq!(
        desk.upload(&token, "in_park", &entry("o-5", 20)).await["state"],
        1
    );
    let relayed = mirror.json().await;
    assert_eq!(relayed["service_name"], "in_park");
    assert_eq!(relayed["order_id"], "o-5");
    // Not back to the instance that sent it.
    assert_eq!(desk.frame_within(SILENCE).await, None);
}

#[tokio::test]
async fn memory_and_connections_stay_bounded_under_tcp_junk() {
    const LIMIT: usize = 20;
    let sim = start(
        fast()
            .history_limit(LIMIT)
            .rate_limit(None)
            .tcp_max_connections(3),
    )
    .await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    for i in 0..100 {
        // Junk of every kind: not JSON, over the line limit, unnamed, unsigned...
        lot.send(&format!("junk {i}")).await;
        lot.send(&"x".repeat(1500)).await;
        assert_eq!(
            lot.ask(&format!(r#"{{"sign":"{i}"}}"#)).await["errmsg"],
            "未识别到service_name标记"
        );
        assert_eq!(
            lot.ask(&format!(r#"{{"service_name":"{i}{}"}}"#, "s".repeat(500)))
                .await["errmsg"],
            "未识别到sign标记"
        );
        // ...and valid, distinct entries (each sign remembered for re-sends).
        let answer = lot
            .upload(&token, "in_park", &entry(&format!("o-{i}"), 20))
            .await;
        assert_eq!(answer["state"], 1, "{answer}");
    }
    let rejected = sim.rejected();
    assert_eq!(rejected.len(), LIMIT);
    assert!(rejected
        .iter()
        .all(|r| r.service_name.chars().count() <= 129 && r.reason.chars().count() <= 257));
    assert_eq!(sim.received().len(), LIMIT);
    assert_eq!(sim.deliveries().len(), LIMIT);
    assert_eq!(sim.in_park().len(), LIMIT);
    // The oldest signs were forgotten: the first entry's frame is taken as
    // new again (its order forgotten too), not as a re-send.
    let first = lot.upload(&token, "in_park", &entry("o-0", 20)).await;
    assert_eq!(first["state"], 1, "{first}");
    // Sessions: at most LIMIT, however many instances log in.
    for i in 0..3 * LIMIT {
        lot.login(&format!("lane-{i}")).await;
    }
    assert_eq!(sim.sessions(), LIMIT);
    // Connections: at the cap a newcomer is closed at once.
    let _second = RawTcp::connect(&sim).await;
    let _third = RawTcp::connect(&sim).await;
    let mut fourth = RawTcp::connect(&sim).await;
    assert!(fourth.closed_within(Duration::from_secs(3)).await);
    lot.send("0x11").await;
    assert_eq!(
        lot.frame().await,
        "0x12",
        "the connections within the cap serve"
    );
}

#[tokio::test]
async fn an_envelope_naming_another_service_than_its_data_is_refused() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    // A signed entry, sent as a gate upload.
    let answer = lot.upload(&token, "upload_gate", &named_entry("o-1")).await;
    assert_eq!(answer["state"], 0);
    let errmsg = answer["errmsg"].as_str().unwrap();
    assert!(errmsg.starts_with("error:service_name不一致"), "{errmsg}");
    assert!(sim.received().is_empty());
    // Under its own name it is taken.
    assert_eq!(
        lot.upload(&token, "in_park", &named_entry("o-1")).await["state"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tcp_client_delivers_each_entry_once_through_a_token_expiry() {
    let sim = start(fast()).await;
    let client = tcp_client(&sim, "lane-1");
    let engine = client.clone();
    let running = tokio::spawn(async move {
        engine
            .run(Arc::new(super::push_lot()), std::future::pending())
            .await
    });
    let upload = |order: String| {
        let client = client.clone();
        async move {
            let request =
                bolink_types::sdk::Request::decode(named_entry(&order).as_bytes()).unwrap();
            let bolink_types::sdk::Request::InPark(entry) = request else {
                panic!("an entry");
            };
            client.upload(&entry).await.unwrap()
        }
    };
    let settle = |ticket: bolink_sdk::engine::Ticket| async move {
        let outcome = tokio::time::timeout(Duration::from_secs(20), ticket.outcome())
            .await
            .expect("settled");
        assert!(
            matches!(outcome, bolink_sdk::engine::Outcome::Delivered { .. }),
            "{outcome:?}"
        );
    };
    for i in 0..5 {
        settle(upload(format!("a-{i}")).await).await;
    }
    // The platform forgets every token: the next entry is refused for its
    // token, the client logs in again and sends it again; its sign is one
    // the server's re-send memory holds.
    sim.expire_tokens();
    for i in 0..5 {
        settle(upload(format!("b-{i}")).await).await;
    }
    let orders: Vec<String> = sim
        .received()
        .into_iter()
        .map(|r| r.data["order_id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..5)
        .map(|i| format!("a-{i}"))
        .chain((0..5).map(|i| format!("b-{i}")))
        .collect();
    assert_eq!(orders, expected, "each entry stored once, none lost");
    assert_eq!(sim.in_park().len(), 10);
    assert!(sim.logins() >= 2, "logged in again after the expiry");
    client.shutdown();
    let _ = running.await;
}

#[tokio::test]
async fn uploads_learnt_from_the_clouds_code_are_checked_against_their_tables() {
    let sim = start(fast()).await;
    // SDK-HTTP mode: a log upload (2.6) is taken, one without content refused.
    let http = reqwest::Client::new();
    let url = format!("{}/bpd/upload.do", sim.base_url());
    let data = format!(r#"{{"union_id":"{UNION}","park_id":"{PARK}","local_id":"desk"}}"#);
    let login = sdk_http::build("login", None, &data, &key()).unwrap();
    let reply: Value = http
        .post(&url)
        .body(login)
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    let http_token = reply["token"].as_str().unwrap().to_string();
    let log = r#"{"service_name":"park_log","log_id":"L-1","content":"lane A1 opened","operate_time":1490875218}"#;
    let post = |data: &str| {
        let body = sdk_http::build("park_log", Some(&http_token), data, &key()).unwrap();
        http.post(&url).body(body).send()
    };
    let reply: Value = post(log).await.unwrap().json_value().await;
    assert_eq!(reply["state"], 1, "{reply}");
    let reply: Value = post(r#"{"log_id":"L-2","operate_time":1490875218}"#)
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(reply["state"], 0, "{reply}");
    assert!(
        reply["errmsg"]
            .as_str()
            .unwrap()
            .contains("content: required"),
        "{reply}"
    );
    // The TCP link: answered as the server answers, with the id it echoes.
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("lane-1").await;
    let answer = lot.upload(&token, "park_log", log).await;
    assert_eq!(answer["state"], 1, "{answer}");
    assert_eq!(answer["log_id"], "L-1");
    let black =
        r#"{"black_uuid":"b-1","operate_type":1,"car_number":"京A12345","create_time":1490875218}"#;
    let answer = lot.upload(&token, "upload_blackuser", black).await;
    assert_eq!(
        (answer["state"].clone(), answer["black_uuid"].clone()),
        (json!(1), json!("b-1")),
        "{answer}"
    );
    // The server refuses a blacklist entry without operate_type (2.15).
    let answer = lot
        .upload(&token, "upload_blackuser", r#"{"black_uuid":"b-2"}"#)
        .await;
    assert_eq!(answer["state"], 0, "{answer}");
    let services: Vec<String> = sim.received().into_iter().map(|r| r.service_name).collect();
    assert_eq!(services, ["park_log", "park_log", "upload_blackuser"]);
}
