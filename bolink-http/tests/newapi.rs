//! The new API over real loopback HTTP: the simulator calls a vendor's
//! callback server; a vendor's client calls the simulator.

use std::net::SocketAddr;
use std::time::Duration;

use bolink_http::newapi::{callback_router, CallbackConfig, NewApiClient, NewApiConfig};
use bolink_http::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use bolink_sdk::{Answer, CallbackHandler, Refusal};
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::Key;
use bolink_types::enums::{PayType, State};
use bolink_types::newapi::{self, notice_car_owner, outpark, park_check};
use bolink_types::{Money, UnixSeconds};

const UNION_ID: i64 = 200208;
const KEY: &str = "8403A41ED5EF20BC";

/// A vendor that books payment results and accepts plate-status changes.
struct Vendor;

impl CallbackHandler for Vendor {
    fn outpark(&mut self, request: outpark::Request) -> Answer<()> {
        match request.state {
            State::Success => Ok(()),
            _ => Err(Refusal::new("payment not settled")),
        }
    }

    fn notice_car_owner(
        &mut self,
        request: notice_car_owner::Request,
    ) -> Answer<notice_car_owner::Response> {
        let mut answer = notice_car_owner::Response::new(State::Success);
        answer.errmsg = Some(format!("{} noted", request.car_number));
        Ok(answer)
    }
}

async fn vendor_server(config: CallbackConfig) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let addr: SocketAddr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, callback_router(Vendor, config)).await;
    });
    format!("http://{addr}")
}

async fn platform() -> SimulatorHandle {
    Simulator::new(SimulatorConfig {
        answer_timeout: Duration::from_secs(5),
        ..SimulatorConfig::default()
    })
    .vendor(UNION_ID, Key::new(KEY))
    .start(([127, 0, 0, 1], 0).into())
    .await
    .expect("the simulator starts")
}

fn payment(state: State) -> newapi::Request {
    let mut request = outpark::Request::new(
        state,
        "21835".into(),
        "o-1".into(),
        "t-1".into(),
        PayType::Wallet,
        String::new(),
    );
    request.total = Some(Money::from_cents(650));
    request.into()
}

#[tokio::test]
async fn a_payment_result_is_answered_in_json_and_base64() {
    let sim = platform().await;
    let url = format!(
        "{}/callback/outpark",
        vendor_server(CallbackConfig::new(Key::new(KEY))).await
    );
    for encoding in [BodyEncoding::Json, BodyEncoding::Base64] {
        let answer = sim
            .call_vendor(&url, UNION_ID, &payment(State::Success), encoding)
            .await
            .unwrap();
        assert_eq!((answer.status, answer.state), (200, Some(1)), "{answer:?}");
    }
    let refused = sim
        .call_vendor(&url, UNION_ID, &payment(State::Failure), BodyEncoding::Json)
        .await
        .unwrap();
    assert_eq!((refused.status, refused.state), (200, Some(0)));
    assert_eq!(refused.errmsg.as_deref(), Some("payment not settled"));
}

#[tokio::test]
async fn a_typed_response_comes_back_from_the_vendor() {
    let sim = platform().await;
    let url = format!(
        "{}/bolink/notice",
        vendor_server(CallbackConfig::new(Key::new(KEY))).await
    );
    let notice = notice_car_owner::Request::new(
        UNION_ID,
        "o-1".into(),
        "苏K55098".into(),
        1,
        "21835".into(),
        "0.99".into(),
    );
    let answer = sim
        .call_vendor(&url, UNION_ID, &notice.into(), BodyEncoding::Json)
        .await
        .unwrap();
    match &answer.response {
        Some(newapi::Response::NoticeCarOwner(response)) => {
            assert_eq!(response.errmsg.as_deref(), Some("苏K55098 noted"))
        }
        _ => panic!("expected the notice's response, got {answer:?}"),
    }
}

#[tokio::test]
async fn services_the_vendor_does_not_offer_are_refused_as_not_supported() {
    let sim = platform().await;
    let url = format!(
        "{}/callback/nolicence_in_park",
        vendor_server(CallbackConfig::new(Key::new(KEY))).await
    );
    let entry = newapi::nolicence_in_park::Request::new(
        "EA47829".into(),
        "21798".into(),
        UNION_ID,
        UnixSeconds(1_523_215_123),
        "A1".into(),
    );
    let answer = sim
        .call_vendor(&url, UNION_ID, &entry.into(), BodyEncoding::Json)
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.state, answer.errmsg.as_deref()),
        (200, Some(0), Some("not supported"))
    );
}

#[tokio::test]
async fn bad_input_gets_the_protocols_error_answer_and_a_fitting_status() {
    let base = vendor_server(CallbackConfig {
        body_limit: 2048,
        ..CallbackConfig::new(Key::new(KEY))
    })
    .await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Vec<u8>| http.post(format!("{base}{path}")).body(body).send();
    let data = r#"{"state":1,"park_id":"21835","order_id":"o-1","trade_no":"t-1","pay_type":"wallet","errmsg":""}"#;
    let wrong_sign =
        bolink_sign::newapi::build(data, &Key::new("other"), None, BodyEncoding::Json).unwrap();
    let good = bolink_sign::newapi::build(data, &Key::new(KEY), None, BodyEncoding::Json).unwrap();
    let invalid = bolink_sign::newapi::build(
        r#"{"state":"x","park_id":"21835"}"#,
        &Key::new(KEY),
        None,
        BodyEncoding::Json,
    )
    .unwrap();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("/cb/outpark", wrong_sign, 401, "bad sign"),
        (
            "/cb/outpark",
            b"@@ not base64 @@".to_vec(),
            400,
            "malformed body",
        ),
        (
            "/cb/outpark",
            b"{\"data\":{}}".to_vec(),
            400,
            "malformed body",
        ),
        (
            "/cb/no_such_callback",
            good.clone(),
            404,
            "unknown callback",
        ),
        ("/cb/outpark", invalid, 200, "invalid message"),
        ("/cb/outpark", vec![b' '; 4096], 413, "body over 2048 bytes"),
    ];
    for (path, body, status, errmsg) in cases {
        let response = post(path, body).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path} {errmsg}");
        let reply: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(reply["state"], 0, "{reply}");
        assert!(
            reply["errmsg"].as_str().unwrap().starts_with(errmsg),
            "{reply}"
        );
    }
    // Still serving, and a replayed message is answered the same way.
    for _ in 0..2 {
        let response = post("/cb/outpark", good.clone()).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
}

#[tokio::test]
async fn the_platform_checks_and_records_upstream_requests() {
    let sim = platform().await;
    let request = park_check::Request::new(UNION_ID, "21835".into(), "京A12345".into());
    let client = NewApiClient::new(Key::new(KEY), NewApiConfig::new(sim.base_url()));
    match client.send("park_check", &request).await.unwrap() {
        newapi::Response::ParkCheck(response) => {
            assert_eq!(response.state, State::Success);
            assert!(response.data.is_some(), "{response:?}");
        }
        other => panic!("expected park_check's response, got {other:?}"),
    }
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.received()[0].service_name, "park_check");

    let forged = NewApiClient::new(Key::new("wrong"), NewApiConfig::new(sim.base_url()));
    let body = forged
        .send_to("/unionapi/neworder/uploadData", &request)
        .await
        .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["state"], 0);
    assert!(
        reply["errmsg"].as_str().unwrap().contains("签名错误"),
        "{reply}"
    );
    assert_eq!(sim.received().len(), 1);
}

#[tokio::test]
async fn uploads_go_through_the_outbox_and_survive_an_absent_platform() {
    use bolink_http::sdk_http::Delivery;
    let addr = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = NewApiClient::new(Key::new(KEY), NewApiConfig::new(format!("http://{addr}")));
    let request = park_check::Request::new(UNION_ID, "21835".into(), "京A12345".into());
    assert!(matches!(
        client.upload("park_check", &request).await.unwrap(),
        Delivery::Queued(_)
    ));
    assert_eq!(client.pending_uploads().await, 1);
    let sim = Simulator::new(SimulatorConfig::default())
        .vendor(UNION_ID, Key::new(KEY))
        .start(addr)
        .await
        .unwrap();
    let mut delivered = 0;
    for _ in 0..40 {
        delivered += client.flush().await.delivered.len();
        if delivered > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered, 1);
    assert_eq!(sim.received().len(), 1);
    assert_eq!(client.pending_uploads().await, 0);
    // A key no new-API interface has is refused before anything is stored.
    assert!(client.upload("no_such_interface", &request).await.is_err());
    assert_eq!(client.pending_uploads().await, 0);
}
