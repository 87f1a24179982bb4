//! The simulator against plain HTTP (reqwest) and raw sockets: it answers
//! as the platform's public code does, stays bounded under junk, and is
//! served with the hardened serving layer.

use std::time::{Duration, Instant};

use bolink_http::simulator::{
    DriverError, RateLimit, ResendAnswer, Simulator, SimulatorConfig, SimulatorHandle, TokenRefusal,
};
use bolink_sign::{sdk_http, Key};
use bolink_types::enums::{CarType, EntryExitType, PayScene};
use bolink_types::sdk::{self, in_park, query_price};
use bolink_types::UnixSeconds;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const UNION: &str = "200208";
const PARK: &str = "21835";
const KEY: &str = "8403A41ED5EF20BC";

async fn start(config: SimulatorConfig) -> SimulatorHandle {
    Simulator::new(config)
        .park(UNION, PARK, Key::new(KEY))
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the simulator starts")
}

struct Lot {
    http: reqwest::Client,
    url: String,
}

impl Lot {
    fn new(sim: &SimulatorHandle) -> Lot {
        Lot {
            http: reqwest::Client::new(),
            url: format!("{}/bpd/upload.do", sim.base_url()),
        }
    }

    async fn post(&self, body: Vec<u8>) -> (u16, Value) {
        let response = self.http.post(&self.url).body(body).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        let json =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
        (status, json)
    }

    async fn login(&self, local_id: &str) -> String {
        let data =
            format!(r#"{{"union_id":"{UNION}","park_id":"{PARK}","local_id":"{local_id}"}}"#);
        let body = sdk_http::build("login", None, &data, &Key::new(KEY)).unwrap();
        let (_, reply) = self.post(body).await;
        assert_eq!(reply["state"], 1, "{reply}");
        reply["token"].as_str().unwrap().to_string()
    }

    async fn upload(&self, token: &str, service_name: &str, data: &str) -> (u16, Value) {
        let body = sdk_http::build(service_name, Some(token), data, &Key::new(KEY)).unwrap();
        self.post(body).await
    }
}

fn entry(order_id: &str) -> String {
    let request = in_park::Request::new(
        "京A12345",
        UnixSeconds(1_490_875_218),
        CarType::Small,
        EntryExitType::LanePlateScan,
        "880099",
        order_id,
        20,
        "A1",
    );
    String::from_utf8(sdk::Request::from(request).encode()).unwrap()
}

#[tokio::test]
async fn an_unknown_or_expired_token_is_answered_200_token_invalid() {
    let sim = start(SimulatorConfig::default().token_ttl(Duration::from_millis(200))).await;
    let lot = Lot::new(&sim);
    let (status, reply) = lot
        .upload("0123456789abcdef0123456789abcdef", "in_park", &entry("o-1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(reply["state"], 0);
    assert_eq!(reply["errmsg"], "error:token无效");
    assert_eq!(reply["service_name"], "in_park");
    // Expired: the same answer.
    let token = lot.login("lane-1").await;
    assert_eq!(
        lot.upload(&token, "in_park", &entry("o-1")).await.1["state"],
        1
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (status, reply) = lot.upload(&token, "in_park", &entry("o-2")).await;
    assert_eq!(
        (status, &reply["errmsg"]),
        (200, &Value::from("error:token无效"))
    );
    // A missing token, in the platform's words.
    let no_token = sdk_http::build("in_park", None, &entry("o-3"), &Key::new(KEY)).unwrap();
    let (status, reply) = lot.post(no_token).await;
    assert_eq!(
        (status, &reply["errmsg"]),
        (200, &Value::from("未识别到token标记"))
    );
    // The long poll too.
    let poll = reqwest::Client::new()
        .post(format!("{}/bpd/download.do", sim.base_url()))
        .body(format!(r#"{{"token":"{token}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status().as_u16(), 200);
    let reply: Value = serde_json::from_slice(&poll.bytes().await.unwrap()).unwrap();
    assert_eq!(reply["errmsg"], "error:token无效");
}

#[tokio::test]
async fn a_token_refusal_can_be_a_401_instead() {
    let sim = start(SimulatorConfig::default().invalid_token(TokenRefusal::Unauthorized)).await;
    let (status, reply) = Lot::new(&sim)
        .upload("0123456789abcdef0123456789abcdef", "in_park", &entry("o-1"))
        .await;
    assert_eq!(
        (status, &reply["errmsg"]),
        (401, &Value::from("error:token无效"))
    );
}

#[tokio::test]
async fn the_101st_upload_within_10_s_is_request_over_times() {
    let sim = start(SimulatorConfig::default()).await;
    let lot = Lot::new(&sim);
    let token = lot.login("lane-1").await;
    let started = Instant::now();
    for i in 0..100 {
        let (_, reply) = lot
            .upload(&token, "in_park", &entry(&format!("o-{i}")))
            .await;
        assert_eq!(reply["state"], 1, "upload {i}: {reply}");
    }
    let (status, reply) = lot.upload(&token, "in_park", &entry("o-100")).await;
    // The test is only meaningful while the 101 requests fit in the window.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(status, 200);
    assert_eq!(
        reply,
        serde_json::json!({"state": 0, "errmsg": "request_over_times"})
    );
    assert_eq!(sim.received().len(), 100);
    // Per token: another charging system of the lot is not limited.
    let other = lot.login("lane-2").await;
    assert_eq!(
        lot.upload(&other, "in_park", &entry("o-100")).await.1["state"],
        1
    );
}

#[tokio::test]
async fn the_rate_limit_window_slides() {
    let window = Duration::from_millis(300);
    let sim = start(SimulatorConfig::default().rate_limit(Some(RateLimit::new(3, window)))).await;
    let lot = Lot::new(&sim);
    let token = lot.login("lane-1").await;
    for i in 0..3 {
        assert_eq!(
            lot.upload(&token, "in_park", &entry(&format!("o-{i}")))
                .await
                .1["state"],
            1
        );
    }
    let (_, reply) = lot.upload(&token, "in_park", &entry("o-3")).await;
    assert_eq!(reply["errmsg"], "request_over_times");
    tokio::time::sleep(window).await;
    // Refused requests did not count: the window is free again.
    assert_eq!(
        lot.upload(&token, "in_park", &entry("o-3")).await.1["state"],
        1
    );
}

#[tokio::test]
async fn a_re_sent_upload_is_answered_already_processed_and_recorded_once() {
    let sim = start(SimulatorConfig::default()).await;
    let lot = Lot::new(&sim);
    let token = lot.login("lane-1").await;
    let (_, first) = lot.upload(&token, "in_park", &entry("o-7")).await;
    assert_eq!(first["state"], 1);
    let (status, again) = lot.upload(&token, "in_park", &entry("o-7")).await;
    assert_eq!(status, 200);
    assert_eq!(
        again,
        serde_json::json!({
            "state": 0,
            "errmsg": "数据已处理过...",
            "service_name": "in_park",
            "order_id": "o-7",
            "car_number": "京A12345",
        })
    );
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.deliveries()[&format!("{PARK}/in_park:o-7")], 2);
    assert!(sim.rejected().is_empty(), "{:?}", sim.rejected());
    // Another order is another message.
    assert_eq!(
        lot.upload(&token, "in_park", &entry("o-8")).await.1["state"],
        1
    );
}

#[tokio::test]
async fn a_re_send_can_be_acknowledged_instead() {
    let sim = start(SimulatorConfig::default().resend(ResendAnswer::Acknowledged)).await;
    let lot = Lot::new(&sim);
    let token = lot.login("lane-1").await;
    for _ in 0..2 {
        assert_eq!(
            lot.upload(&token, "in_park", &entry("o-7")).await.1["state"],
            1
        );
    }
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.deliveries()[&format!("{PARK}/in_park:o-7")], 2);
}

#[tokio::test]
async fn memory_stays_bounded_under_junk_load() {
    const LIMIT: usize = 20;
    let sim = start(
        SimulatorConfig::default()
            .history_limit(LIMIT)
            .rate_limit(None),
    )
    .await;
    let lot = Lot::new(&sim);
    let http = reqwest::Client::new();
    let token = lot.login("lane-1").await;
    for i in 0..100 {
        // New-API junk on long paths (under the head size limit)...
        let path = format!("/unionapi/{i}/{}", "p".repeat(8000));
        let response = http
            .post(format!("{}{path}", sim.base_url()))
            .body("{\"data\":{},\"sign\":\"x\"}")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error() || response.status().is_success());
        // ...SDK-HTTP junk with long service names...
        let (_, reply) = lot
            .upload(&token, &format!("{i}{}", "s".repeat(5000)), "{}")
            .await;
        assert_eq!(reply["state"], 0);
        // ...and valid, distinct uploads.
        let (_, reply) = lot
            .upload(&token, "in_park", &entry(&format!("o-{i}")))
            .await;
        assert_eq!(reply["state"], 1, "{reply}");
    }
    let rejected = sim.rejected();
    assert_eq!(rejected.len(), LIMIT);
    for rejection in &rejected {
        assert!(
            rejection.service_name.chars().count() <= 129,
            "{rejection:?}"
        );
        assert!(rejection.reason.chars().count() <= 257, "{rejection:?}");
    }
    // The newest are kept.
    assert!(rejected.last().unwrap().service_name.starts_with("99s"));
    assert_eq!(sim.received().len(), LIMIT);
    assert_eq!(sim.received().last().unwrap().data["order_id"], "o-99");
    assert_eq!(sim.deliveries().len(), LIMIT);
    assert_eq!(sim.in_park().len(), LIMIT);
    // Sessions: one per charging system, at most LIMIT of them.
    for i in 0..3 * LIMIT {
        lot.login(&format!("lane-{i}")).await;
    }
    assert_eq!(sim.sessions(), LIMIT);
}

#[tokio::test]
async fn expired_sessions_are_pruned() {
    const TTL: Duration = Duration::from_secs(1);
    let sim = start(SimulatorConfig::default().token_ttl(TTL)).await;
    let lot = Lot::new(&sim);
    // Every login prunes the sessions that expired, so all 30 are alive at
    // the last only if the batch fit within one TTL. On a loaded machine it
    // may not (the earliest were then rightly pruned): log them all in
    // again, which replaces each lane's session, until a batch fits.
    loop {
        let started = Instant::now();
        for i in 0..30 {
            lot.login(&format!("lane-{i}")).await;
        }
        if started.elapsed() < TTL {
            break;
        }
    }
    assert_eq!(sim.sessions(), 30);
    // Each session started before its login was answered: a TTL from now
    // all have expired.
    tokio::time::sleep(TTL).await;
    lot.login("lane-new").await;
    assert_eq!(sim.sessions(), 1);
}

#[tokio::test]
async fn the_downstream_queue_of_a_lot_that_never_polls_is_bounded() {
    let sim = start(
        SimulatorConfig::default()
            .history_limit(2)
            .answer_timeout(Duration::from_millis(50)),
    )
    .await;
    // A lot that logs in and never polls: its instance's queue fills.
    Lot::new(&sim).login("lane-1").await;
    let mut query = query_price::Request::new(PARK, PayScene::InLotPrepay);
    query.car_number = Some("京A12345".into());
    let query = sdk::Request::from(query);
    for _ in 0..2 {
        let outcome = sim.call(PARK, &query).await;
        assert!(
            matches!(&outcome, Err(DriverError::NotDelivered(why)) if why.contains("long poll")),
            "{outcome:?}"
        );
    }
    assert!(matches!(
        sim.call(PARK, &query).await,
        Err(DriverError::QueueFull(_))
    ));
}

#[tokio::test]
async fn the_simulator_is_served_with_the_hardened_layer() {
    let sim = start(
        SimulatorConfig::default()
            .idle_timeout(Duration::from_millis(200))
            .body_limit(1024),
    )
    .await;
    // An idle connection is closed.
    let mut idle = TcpStream::connect(sim.addr()).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(3), idle.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    // A declared length over the limit: 413 in protocol JSON, body unsent.
    let mut stream = TcpStream::connect(sim.addr()).await.unwrap();
    stream
        .write_all(b"POST /bpd/upload.do HTTP/1.1\r\nhost: sim\r\ncontent-length: 5000\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer.contains("application/json;charset=utf-8"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"state":0,"errmsg":"error:报文过大 (over 1024 bytes)"}"#),
        "{answer}"
    );
    // A GET where the platform takes POSTs: 405 in protocol JSON.
    let response = reqwest::get(format!("{}/bpd/upload.do", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let reply: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(reply["state"], 0);
}
