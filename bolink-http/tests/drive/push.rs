//! `POST /_simulator/push` with every verdict, over the long poll and over
//! the TCP link: the engines as lots, and raw clients for what the engines
//! never send.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bolink_http::simulator::{Link, Verdict, PUSH_PATH};
use bolink_sdk::{Answer, Handler, Refusal};
use bolink_sign::sdk_http;
use bolink_types::enums::State;
use bolink_types::sdk::{nolicence_in_park, prepay_order, query_price};
use bolink_types::{Money, UnixSeconds};
use serde_json::{json, Value};

use super::*;

/// A lot that prices every car at 5.00 (slowly for orders "slow..."),
/// refuses unplated cars, takes prepayments of known orders, and is too
/// slow to answer a prepayment of order "slow".
#[derive(Default)]
struct Lot {
    prepays: AtomicUsize,
}

impl Handler for Lot {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        let order_id = request.order_id.clone().unwrap_or_default();
        if order_id.starts_with("slow") {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut answer = query_price::HttpReturn::new(
            State::Success,
            60,
            request.park_id,
            order_id,
            Money::from_cents(500),
        );
        answer.car_number = request.car_number;
        answer.in_time = Some(UnixSeconds(1_561_676_330));
        Ok(answer)
    }

    async fn nolicence_in_park(
        &self,
        _request: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::HttpReturn> {
        Err(Refusal::new("the lane is closed"))
    }

    async fn prepay_order(
        &self,
        request: prepay_order::Request,
    ) -> Answer<prepay_order::SdkReturn> {
        self.prepays.fetch_add(1, Ordering::SeqCst);
        match request.order_id.as_str() {
            "slow" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Err(Refusal::new("too late"))
            }
            "o-1" => {
                let mut answer = prepay_order::SdkReturn::new(State::Success);
                answer.order_id = Some(request.order_id);
                answer.park_id = Some(request.park_id);
                Ok(answer)
            }
            _ => Err(Refusal::new("no such order")),
        }
    }
}

fn price_query() -> Value {
    json!({"service_name": "query_price", "park_id": PARK, "pay_scene": 0,
           "car_number": "京A12345", "order_id": "o-1"})
}

fn unplated() -> Value {
    json!({"service_name": "nolicence_in_park", "park_id": PARK, "car_number": "7FEDR54",
           "channel_id": "A2", "timetemp": 1_503_296_359})
}

fn prepay(order_id: &str) -> Value {
    json!({"service_name": "prepay_order", "park_id": PARK, "car_number": "京A12345",
           "prepay": "5.00", "order_id": order_id, "trade_no": "t-1", "query_time": 1_503_296_359})
}

async fn push(sim: &SimulatorHandle, message: Value, timeout_ms: u64) -> Value {
    let (status, report) = control(
        sim,
        PUSH_PATH,
        &json!({"park_id": PARK, "message": message, "timeout_ms": timeout_ms}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verdict_over_the_long_poll() {
    let sim = start(fast()).await;
    let _lot = http_lot(&sim, "lane-1", Lot::default());
    let answered = push(&sim, price_query(), 5000).await;
    assert_eq!(answered["verdict"], "answered", "{answered}");
    assert_eq!(
        (answered["delivered"].clone(), answered["link"].clone()),
        (json!(true), json!("http"))
    );
    assert_eq!(answered["local_id"], "lane-1");
    assert_eq!(answered["table"], "http-return");
    assert_eq!(answered["answer"]["price"], "5.00");
    assert_eq!(answered["violations"], json!([]));
    let refused = push(&sim, unplated(), 5000).await;
    assert_eq!(refused["verdict"], "refused", "{refused}");
    assert_eq!(refused["answer"]["errmsg"], "the lane is closed");
    let slow = push(&sim, prepay("slow"), 400).await;
    assert_eq!(slow["verdict"], "no_answer", "{slow}");
    assert_eq!(slow["delivered"], true);
    assert!(
        slow["reason"]
            .as_str()
            .unwrap()
            .contains("no answer within 400 ms"),
        "{slow}"
    );
    // Through the Rust API: the same judge, typed.
    let request = bolink_types::sdk::Request::decode(price_query().to_string().as_bytes()).unwrap();
    let report = sim
        .push(PARK, &request, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(report.verdict, Verdict::Answered);
    assert_eq!(report.link, Some(Link::Http));
    assert!(report.message.is_some());
}

#[tokio::test]
async fn an_invalid_answer_over_the_long_poll_lists_its_violations() {
    let sim = start(fast()).await;
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let data = format!(r#"{{"union_id":"{UNION}","park_id":"{PARK}","local_id":"raw"}}"#);
    let login = sdk_http::build("login", None, &data, &key()).unwrap();
    let reply: Value = http
        .post(format!("{base}/bpd/upload.do"))
        .body(login)
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    let token = reply["token"].as_str().unwrap().to_string();
    // The raw lot: one long poll, then an answer without price or duration.
    let lot = tokio::spawn({
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let message = http
                .post(format!("{base}/bpd/download.do"))
                .body(format!(r#"{{"token":"{token}"}}"#))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let envelope = sdk_http::Envelope::parse(&message).expect("a downstream envelope");
            envelope.verify(&key()).expect("signed with the park's key");
            assert_eq!(envelope.service_name, "query_price");
            let answer =
                r#"{"service_name":"query_price","state":1,"park_id":"21835","order_id":"o-1"}"#;
            let body = sdk_http::build("query_price", Some(&token), answer, &key()).unwrap();
            let reply: Value = http
                .post(format!("{base}/bpd/upload.do"))
                .body(body)
                .send()
                .await
                .unwrap()
                .json_value()
                .await;
            // As strict as the platform: the lot hears what is wrong
            // instead of a state 1 that would pass a bad answer for good.
            assert_eq!(reply["state"], 0, "the answer is refused: {reply}");
            let errmsg = reply["errmsg"].as_str().unwrap();
            assert!(errmsg.contains("price: required"), "{reply}");
        }
    });
    let invalid = push(&sim, price_query(), 5000).await;
    lot.await.unwrap();
    assert_eq!(invalid["verdict"], "invalid", "{invalid}");
    assert_eq!(invalid["delivered"], true);
    let violations: Vec<&str> = invalid["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(violations.contains(&"price: required"), "{violations:?}");
    assert!(violations.contains(&"duration: required"), "{violations:?}");
    // The state says what it rejected and why.
    assert!(
        sim.rejected()
            .iter()
            .any(|r| r.service_name == "query_price" && r.reason.contains("price: required")),
        "{:?}",
        sim.rejected()
    );
}

#[tokio::test]
async fn a_push_with_nowhere_to_go_is_not_delivered_and_says_why() {
    let sim = start(fast()).await;
    let report = push(&sim, price_query(), 200).await;
    assert_eq!(
        (report["delivered"].clone(), report["verdict"].clone()),
        (json!(false), json!("no_answer"))
    );
    let reason = report["reason"].as_str().unwrap();
    assert!(
        reason.contains("park 21835 has no live session"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_push_waits_for_the_lot_to_log_in() {
    let sim = start(fast()).await;
    let pushed = tokio::spawn({
        let base = sim.base_url();
        async move {
            reqwest::Client::new()
                .post(format!("{base}{PUSH_PATH}"))
                .body(json!({"park_id": PARK, "message": price_query()}).to_string())
                .send()
                .await
                .unwrap()
                .json_value()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _lot = http_lot(&sim, "lane-1", Lot::default());
    let report = pushed.await.unwrap();
    assert_eq!(report["verdict"], "answered", "{report}");
}

#[tokio::test]
async fn what_is_not_a_valid_downstream_request_is_answered_400() {
    let sim = start(fast()).await;
    let cases = [
        (
            json!({"park_id": PARK, "message": {"park_id": PARK}}),
            "service_name: required",
        ),
        (
            json!({"park_id": PARK, "message": {"service_name": "in_park"}}),
            "is not a downstream service",
        ),
        (
            json!({"park_id": PARK, "message": {"service_name": "query_price", "park_id": PARK, "pay_scene": 0}}),
            "car_number: required when pay_scene is 0 or 2",
        ),
        (
            json!({"park_id": PARK, "message": {"service_name": "query_price", "park_id": "1", "pay_scene": 0, "car_number": "京A1", "order_id": "o"}}),
            "is not the park pushed to",
        ),
    ];
    for (request, expected) in cases {
        let (status, answer) = control(&sim, PUSH_PATH, &request).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["state"], 0);
        let violations = answer["violations"].to_string();
        assert!(violations.contains(expected), "{expected}: {answer}");
    }
    let (status, answer) = control(&sim, PUSH_PATH, &json!({"message": {}})).await;
    assert_eq!((status, answer["state"].clone()), (400, json!(0)));
    let (status, _) = control(
        &sim,
        PUSH_PATH,
        &json!({"park_id": "nope", "message": price_query()}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, answer) = control(
        &sim,
        PUSH_PATH,
        &json!({"park_id": PARK, "message": price_query(), "timeout_ms": 3_600_000}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["errmsg"]
        .as_str()
        .unwrap()
        .contains("over the limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verdict_over_tcp() {
    let sim = start(fast()).await;
    let lot = Arc::new(Lot::default());
    let _lot = tcp_lot(&sim, "lane-t", SharedLot(lot.clone()));
    // SDK mode's table: prepay_order's sdk_return (data_target included).
    let answered = push(&sim, prepay("o-1"), 5000).await;
    assert_eq!(answered["verdict"], "answered", "{answered}");
    assert_eq!(answered["link"], "tcp");
    assert_eq!(answered["table"], "sdk-return");
    assert_eq!(answered["answer"]["data_target"], "bolink");
    let refused = push(&sim, prepay("o-2"), 5000).await;
    assert_eq!(refused["verdict"], "refused", "{refused}");
    assert_eq!(refused["answer"]["errmsg"], "no such order");
    let slow = push(&sim, prepay("slow"), 400).await;
    assert_eq!(
        (slow["verdict"].clone(), slow["delivered"].clone()),
        (json!("no_answer"), json!(true)),
        "{slow}"
    );
    assert_eq!(lot.prepays.load(Ordering::SeqCst), 3);
}

/// A handler shared with the test, to count what reached it.
struct SharedLot(Arc<Lot>);

impl Handler for SharedLot {
    async fn prepay_order(
        &self,
        request: prepay_order::Request,
    ) -> Answer<prepay_order::SdkReturn> {
        self.0.prepay_order(request).await
    }

    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        self.0.query_price(request).await
    }
}

#[tokio::test]
async fn answers_over_tcp_are_judged_against_sdk_modes_table() {
    let sim = start(fast()).await;
    let mut lot = RawTcp::connect(&sim).await;
    let token = lot.login("raw").await;
    for (answer, verdict, violation) in [
        // HTTP mode's table: SDK mode's wants data_target (and service_name).
        (
            r#"{"state":1,"duration":60,"park_id":"21835","order_id":"o-1","price":"5.00","car_number":"京A12345","in_time":1561676330}"#,
            "invalid",
            Some("data_target: required"),
        ),
        (
            r#"{"service_name":"query_price","data_target":"bolink","state":1,"duration":60,"park_id":"21835","order_id":"o-1","price":"5.00","car_number":"京A12345","in_time":1561676330}"#,
            "answered",
            None,
        ),
        // A refusal breaking the table is still a refusal, its violations listed.
        (
            r#"{"service_name":"query_price","data_target":"bolink","state":0}"#,
            "refused",
            Some("errmsg: required when state is 0"),
        ),
    ] {
        let pushed = tokio::spawn({
            let base = sim.base_url();
            async move {
                reqwest::Client::new()
                    .post(format!("{base}{PUSH_PATH}"))
                    .body(
                        json!({"park_id": PARK, "message": price_query(), "timeout_ms": 5000})
                            .to_string(),
                    )
                    .send()
                    .await
                    .unwrap()
                    .json_value()
                    .await
            }
        });
        let message = lot.frame().await;
        let envelope = sdk_http::Envelope::parse(message.as_bytes()).expect("an envelope");
        envelope.verify(&key()).expect("signed with the park's key");
        let data: Value = serde_json::from_slice(envelope.data_bytes()).unwrap();
        assert_eq!(data["car_number"], "京A12345");
        let sign = bolink_sign::sign(answer.as_bytes(), &key());
        let frame = format!(
            r#"{{"service_name":"query_price","sign":"{}","token":"{token}","data":{answer}}}"#,
            std::str::from_utf8(&sign.as_hex()).unwrap(),
        );
        lot.send(&frame).await;
        assert_eq!(
            lot.frame().await,
            "",
            "the server answers an answer with an empty frame"
        );
        let report = pushed.await.unwrap();
        assert_eq!(report["verdict"], verdict, "{report}");
        assert_eq!(report["link"], "tcp");
        if let Some(violation) = violation {
            assert!(
                report["violations"].to_string().contains(violation),
                "{violation}: {report}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_get_their_own_answers() {
    let sim = start(fast()).await;
    let _lot = http_lot(&sim, "lane-1", Lot::default());
    let query = |order: &str| {
        let mut message = price_query();
        message["order_id"] = json!(order);
        message
    };
    // The first is answered last: each verdict must still be its own.
    let slow = tokio::spawn({
        let base = sim.base_url();
        let message = query("slow-1");
        async move {
            reqwest::Client::new()
                .post(format!("{base}{PUSH_PATH}"))
                .body(json!({"park_id": PARK, "message": message}).to_string())
                .send()
                .await
                .unwrap()
                .json_value()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fast = push(&sim, query("fast-2"), 5000).await;
    let slow = slow.await.unwrap();
    assert_eq!(fast["answer"]["order_id"], "fast-2", "{fast}");
    assert_eq!(slow["answer"]["order_id"], "slow-1", "{slow}");
    assert_eq!(
        (fast["verdict"].clone(), slow["verdict"].clone()),
        (json!("answered"), json!("answered"))
    );
}

/// A lot that takes stored-value cards (3.20), and offers no top-up sync.
struct Cards;

impl Handler for Cards {
    async fn prepay_card_sync(
        &self,
        request: bolink_types::sdk::prepay_card_sync::Request,
    ) -> Answer<()> {
        match request.data.and_then(|d| d.card_id) {
            Some(_) => Ok(()),
            None => Err(Refusal::new("no card_id")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_learnt_from_the_clouds_code_is_pushed_and_acknowledged() {
    let sim = start(fast()).await;
    let _lot = http_lot(&sim, "lane-1", Cards);
    // As the cloud's back office builds it (fields nested in data).
    let card = json!({"service_name": "prepay_card_sync", "data": {
        "car_number": "京A12345", "card_id": "C1001", "create_time": 1_546_300_800,
        "operate_type": 1, "park_id": PARK, "total_price": "500.00"}});
    let answered = push(&sim, card, 5000).await;
    assert_eq!(answered["verdict"], "answered", "{answered}");
    assert_eq!(answered["answer"]["service_name"], "prepay_card_sync");
    assert_eq!(answered["answer"]["state"], 1);
    assert_eq!(answered["violations"], json!([]));
    let trade = json!({"service_name": "prepay_card_trade_sync", "data": {
        "card_id": "C1001", "pay_time": 1_546_300_800, "trade_no": "t-1", "total_price": "100"}});
    let refused = push(&sim, trade, 5000).await;
    assert_eq!(refused["verdict"], "refused", "{refused}");
}
