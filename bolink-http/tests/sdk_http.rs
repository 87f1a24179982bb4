//! SDK-HTTP mode over real loopback HTTP: the client against the simulator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bolink_http::sdk_http::{client as lot_client, ClientConfig, SdkHttpClient};
use bolink_http::simulator::{DriverError, LotAnswer, Simulator, SimulatorConfig, SimulatorHandle};
use bolink_sdk::backoff::BackoffPolicy;
use bolink_sdk::engine::{EngineConfig, EngineError, Outcome};
use bolink_sdk::outbox::RetryPolicy;
use bolink_sdk::{Answer, Credentials, Handler, Refusal};
use bolink_sign::{sdk_http, Key};
use bolink_types::enums::{PayScene, State};
use bolink_types::sdk::{self, nolicence_in_park, query_price};
use bolink_types::{Money, UnixSeconds};

const UNION: &str = "200208";
const PARK: &str = "21835";
const KEY: &str = "8403A41ED5EF20BC";

/// A lot that charges 5.00 for any car and admits unplated cars.
struct Lot;

impl Handler for Lot {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        let order_id = request
            .order_id
            .clone()
            .ok_or_else(|| Refusal::new("no order"))?;
        let mut answer = query_price::HttpReturn::new(
            State::Success,
            60,
            request.park_id,
            order_id,
            Money::from_cents(500),
        );
        answer.query_order_no = request.query_order_no;
        answer.car_number = request.car_number;
        answer.in_time = Some(UnixSeconds(1_561_676_330));
        Ok(answer)
    }

    async fn nolicence_in_park(
        &self,
        request: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::HttpReturn> {
        Ok(nolicence_in_park::HttpReturn::new(
            State::Success,
            request.car_number,
            request.timetemp,
        ))
    }
}

fn fast() -> SimulatorConfig {
    SimulatorConfig::default()
        .poll_hold(Duration::from_millis(300))
        .answer_timeout(Duration::from_secs(5))
}

async fn simulator(config: SimulatorConfig, addr: SocketAddr) -> SimulatorHandle {
    Simulator::new(config)
        .park(UNION, PARK, Key::new(KEY))
        .start(addr)
        .await
        .expect("the simulator starts")
}

/// A client that retries quickly (the simulator is on loopback).
fn client(base_url: String) -> SdkHttpClient {
    let quick = BackoffPolicy::new(Duration::from_millis(50), Duration::from_millis(200));
    let config = EngineConfig::default()
        .link_backoff(quick)
        .login_backoff(quick)
        .retry(
            RetryPolicy::default()
                .backoff_between(Duration::from_millis(50), Duration::from_millis(200)),
        );
    lot_client(
        Credentials::new(UNION, PARK, "lane-1", Key::new(KEY)),
        ClientConfig::with_base_url(base_url),
    )
    .config(config)
    .build()
}

/// Runs the lot (uploads and long polls) until dropped.
struct Running(SdkHttpClient);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

fn run_lot(client: SdkHttpClient) -> Running {
    tokio::spawn({
        let client = client.clone();
        async move { client.run(Arc::new(Lot), std::future::pending()).await }
    });
    Running(client)
}

fn price_query(car: &str) -> sdk::Request {
    let mut request = query_price::Request::new(PARK, PayScene::InLotPrepay);
    request.car_number = Some(car.into());
    request.order_id = Some("o-1".into());
    request.into()
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn a_price_query_is_answered_through_the_handler() {
    let sim = simulator(fast(), loopback()).await;
    let _lot = run_lot(client(sim.base_url()));
    let answer = sim.call(PARK, &price_query("京A12345")).await.unwrap();
    let LotAnswer::Answered(message) = answer else {
        panic!("expected an answer, got {answer:?}");
    };
    let sdk::Message::HttpReturn(sdk::HttpReturn::QueryPrice(price)) = *message else {
        panic!("expected a query_price http_return, got {message:?}");
    };
    assert_eq!(price.price, Money::from_cents(500));
    assert_eq!(price.car_number.as_deref(), Some("京A12345"));
    assert_eq!(sim.logins(), 1);
}

#[tokio::test]
async fn an_unplated_entry_is_answered() {
    let sim = simulator(fast(), loopback()).await;
    let _lot = run_lot(client(sim.base_url()));
    let request =
        nolicence_in_park::Request::new("7FEDR54", PARK, "A2", UnixSeconds(1_503_296_359));
    let answer = sim.call(PARK, &request.into()).await.unwrap();
    assert!(matches!(answer, LotAnswer::Answered(_)), "{answer:?}");
}

#[tokio::test]
async fn services_the_lot_does_not_offer_are_refused_as_not_supported() {
    let sim = simulator(fast(), loopback()).await;
    let _lot = run_lot(client(sim.base_url()));
    let payment = r#"{"service_name":"outpark","state":1,"order_id":"o-1","trade_no":"t-1","pay_type":"wallet","errmsg":"","pay_time":1490875218,"total":"5.00","car_number":"京A12345","arrive_money":"5.00","fee":"0.00","account_type":0,"remark":"收到停车费-京A12345"}"#;
    let request = sdk::Request::decode(payment.as_bytes()).unwrap();
    assert_eq!(
        sim.call(PARK, &request).await.unwrap(),
        LotAnswer::Refused("not supported".into())
    );
}

#[tokio::test]
async fn a_wrongly_signed_downstream_message_is_not_answered() {
    let config = fast().answer_timeout(Duration::from_secs(1));
    let sim = simulator(config, loopback()).await;
    let _lot = run_lot(client(sim.base_url()));
    let data = String::from_utf8(price_query("京A12345").encode()).unwrap();
    let forged =
        sdk_http::build("query_price", None, &data, &Key::new("not the park's key")).unwrap();
    let outcome = sim.call_raw(PARK, "query_price", forged).await;
    assert!(
        matches!(outcome, Err(DriverError::Timeout(_))),
        "{outcome:?}"
    );
    // The lot keeps serving after dropping it.
    assert!(sim.call(PARK, &price_query("京A12345")).await.is_ok());
}

#[tokio::test]
async fn an_expired_token_leads_to_a_new_login() {
    let sim = simulator(fast(), loopback()).await;
    let _lot = run_lot(client(sim.base_url()));
    sim.call(PARK, &price_query("京A1")).await.unwrap();
    sim.expire_tokens();
    sim.call(PARK, &price_query("京A2")).await.unwrap();
    assert_eq!(sim.logins(), 2);
}

#[tokio::test]
async fn the_poll_loop_reconnects_after_the_simulator_restarts() {
    let sim = simulator(fast(), loopback()).await;
    let addr = sim.addr();
    let _lot = run_lot(client(sim.base_url()));
    sim.call(PARK, &price_query("京A1")).await.unwrap();
    sim.shutdown().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The new platform has no sessions: the client must log in again.
    let sim = simulator(fast(), addr).await;
    assert!(sim.call(PARK, &price_query("京A2")).await.is_ok());
    assert_eq!(sim.logins(), 1);
}

#[tokio::test]
async fn a_login_with_the_wrong_key_is_refused() {
    let sim = simulator(fast(), loopback()).await;
    let client = lot_client(
        Credentials::new(UNION, PARK, "lane-1", Key::new("wrong")),
        ClientConfig::with_base_url(sim.base_url()),
    )
    .build();
    let err = client.login().await.unwrap_err();
    assert!(
        matches!(&err, EngineError::NoSession(why) if why.contains("签名错误")),
        "{err}"
    );
    // A second attempt inside the backoff does not reach the platform.
    let logins_before = sim.rejected().len();
    assert!(client.login().await.is_err());
    assert_eq!(sim.rejected().len(), logins_before);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let sim = simulator(fast().body_limit(1024), loopback()).await;
    let body = format!(
        r#"{{"service_name":"x","sign":"","data":{{"a":"{}"}}}}"#,
        "x".repeat(2048)
    );
    let response = reqwest::Client::new()
        .post(format!("{}/bpd/upload.do", sim.base_url()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
}

#[tokio::test]
async fn malformed_and_unknown_uploads_are_rejected_with_state_0() {
    let sim = simulator(fast(), loopback()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/bpd/upload.do", sim.base_url());
    let response = http
        .post(&url)
        .body("{\"service_name\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let reply: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(reply["state"], 0);

    // An unknown service from a logged-in lot (the page's login example has no local_id).
    let login_reply = http
        .post(&url)
        .body(
            sdk_http::build(
                "login",
                None,
                &format!(r#"{{"union_id":"{UNION}","park_id":"{PARK}"}}"#),
                &Key::new(KEY),
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let token = serde_json::from_slice::<serde_json::Value>(&login_reply.bytes().await.unwrap())
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let unknown = sdk_http::build("no_such_service", Some(&token), "{}", &Key::new(KEY)).unwrap();
    let reply: serde_json::Value = serde_json::from_slice(
        &http
            .post(&url)
            .body(unknown)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(reply["state"], 0);
    assert!(
        reply["errmsg"]
            .as_str()
            .unwrap()
            .contains("no_such_service"),
        "{reply}"
    );
    assert!(sim
        .rejected()
        .iter()
        .any(|r| r.service_name == "no_such_service"));
}

#[tokio::test]
async fn uploads_without_a_session_log_in_first() {
    let sim = simulator(fast(), loopback()).await;
    let client = client(sim.base_url());
    let ticket = client.upload(&entry("o-6")).await.unwrap();
    let _lot = run_lot(client.clone());
    assert!(matches!(ticket.outcome().await, Outcome::Delivered { .. }));
    assert_eq!(sim.logins(), 1);
}

fn entry(order_id: &str) -> bolink_types::sdk::in_park::Request {
    use bolink_types::enums::{CarType, EntryExitType};
    bolink_types::sdk::in_park::Request::new(
        "京A12345",
        UnixSeconds(1_490_875_218),
        CarType::Small,
        EntryExitType::LanePlateScan,
        "880099",
        order_id,
        20,
        "A1",
    )
}

#[tokio::test]
async fn uploads_are_acknowledged_and_the_platform_tracks_the_order() {
    use bolink_types::enums::PayType;
    let sim = simulator(fast(), loopback()).await;
    let client = client(sim.base_url());
    let _lot = run_lot(client.clone());
    let delivery = client.upload(&entry("o-7")).await.unwrap().outcome().await;
    assert!(
        matches!(delivery, Outcome::Delivered { ref record, duplicate: false } if record.idempotency_key == "in_park:o-7"),
        "{delivery:?}"
    );
    assert_eq!(sim.in_park().len(), 1);
    let exit = bolink_types::sdk::out_park::Request::new(
        "京A12345",
        UnixSeconds(1_490_875_218),
        UnixSeconds(1_490_879_218),
        "880099",
        PayType::Cash,
        21,
        Money::from_cents(650),
        "o-7",
    );
    assert!(matches!(
        client.upload(&exit).await.unwrap().outcome().await,
        Outcome::Delivered { .. }
    ));
    assert!(sim.in_park().is_empty());
    assert_eq!(client.pending().await.unwrap(), 0);
}

#[tokio::test]
async fn an_upload_made_while_the_platform_is_down_arrives_once_it_is_back() {
    // Find a free port, then leave it closed for a while.
    let addr = tokio::net::TcpListener::bind(loopback())
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = client(format!("http://{addr}"));
    let _lot = run_lot(client.clone());
    let ticket = client.upload(&entry("o-8")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.pending().await.unwrap(), 1);
    let sim = simulator(fast(), addr).await;
    assert!(matches!(ticket.outcome().await, Outcome::Delivered { .. }));
    assert_eq!(sim.received().len(), 1);
    assert_eq!(client.pending().await.unwrap(), 0);
}

#[tokio::test]
async fn invalid_uploads_are_refused_before_they_are_stored() {
    let sim = simulator(fast(), loopback()).await;
    let client = client(sim.base_url());
    let mut bad = entry("o-9");
    bad.car_number = "京A123456789".into();
    let err = client.upload(&bad).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("car_number: 11 characters, at most 8"),
        "{err}"
    );
    assert_eq!(client.pending().await.unwrap(), 0);
    assert!(sim.received().is_empty());
}

#[tokio::test]
async fn a_re_sent_upload_is_recorded_once() {
    let sim = simulator(fast(), loopback()).await;
    let client = client(sim.base_url());
    let _lot = run_lot(client.clone());
    let first = client.upload(&entry("o-10")).await.unwrap();
    // The same entry again, as after a lost acknowledgement.
    let again = client.upload(&entry("o-10")).await.unwrap();
    assert!(matches!(first.outcome().await, Outcome::Delivered { .. }));
    assert!(matches!(again.outcome().await, Outcome::Delivered { .. }));
    assert_eq!(sim.received().len(), 1);
    assert_eq!(sim.deliveries()["21835/in_park:o-10"], 2);
}

/// A lot whose price answers wait until released, and whose unplated-entry
/// handler panics.
struct Stalling {
    release: tokio::sync::Notify,
}

impl Handler for Stalling {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        self.release.notified().await;
        Lot.query_price(request).await
    }

    async fn nolicence_in_park(
        &self,
        _request: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::HttpReturn> {
        panic!("the lot's database is gone");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_holds_up_neither_uploads_nor_other_messages() {
    let sim = Arc::new(simulator(fast(), loopback()).await);
    let client = client(sim.base_url());
    let lot = Arc::new(Stalling {
        release: tokio::sync::Notify::new(),
    });
    tokio::spawn({
        let (client, lot) = (client.clone(), lot.clone());
        async move { client.run(lot, std::future::pending()).await }
    });
    let _stop = Running(client.clone());
    // A price query that the handler sits on.
    let stalled = tokio::spawn({
        let sim = sim.clone();
        async move { sim.call(PARK, &price_query("京A1")).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Meanwhile an upload is delivered and another message is answered.
    let ticket = client.upload(&entry("o-11")).await.unwrap();
    assert!(matches!(ticket.outcome().await, Outcome::Delivered { .. }));
    let payment = r#"{"service_name":"outpark","state":1,"order_id":"o-1","trade_no":"t-1","pay_type":"wallet","errmsg":"","pay_time":1490875218,"total":"5.00","car_number":"京A12345","arrive_money":"5.00","fee":"0.00","account_type":0,"remark":"收到停车费-京A12345"}"#;
    let request = sdk::Request::decode(payment.as_bytes()).unwrap();
    assert_eq!(
        sim.call(PARK, &request).await.unwrap(),
        LotAnswer::Refused("not supported".into())
    );
    assert!(!stalled.is_finished());
    lot.release.notify_one();
    assert!(matches!(
        stalled.await.unwrap().unwrap(),
        LotAnswer::Answered(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_answered_as_an_internal_error_and_the_lot_serves_on() {
    let sim = simulator(fast(), loopback()).await;
    let client = client(sim.base_url());
    let lot = Arc::new(Stalling {
        release: tokio::sync::Notify::new(),
    });
    tokio::spawn({
        let (client, lot) = (client.clone(), lot.clone());
        async move { client.run(lot, std::future::pending()).await }
    });
    let _stop = Running(client.clone());
    let request =
        nolicence_in_park::Request::new("7FEDR54", PARK, "A2", UnixSeconds(1_503_296_359));
    assert_eq!(
        sim.call(PARK, &request.clone().into()).await.unwrap(),
        LotAnswer::Refused("internal error".into())
    );
    // Still polling, still answering.
    assert_eq!(
        sim.call(PARK, &request.into()).await.unwrap(),
        LotAnswer::Refused("internal error".into())
    );
    let ticket = client.upload(&entry("o-12")).await.unwrap();
    assert!(matches!(ticket.outcome().await, Outcome::Delivered { .. }));
}

#[tokio::test]
async fn force_update_replaces_an_entry_the_platform_already_has() {
    let sim = simulator(fast(), loopback()).await;
    let client = client(sim.base_url());
    let _lot = run_lot(client.clone());
    let first = client.upload(&entry("o-13")).await.unwrap();
    assert!(matches!(
        first.outcome().await,
        Outcome::Delivered {
            duplicate: false,
            ..
        }
    ));
    // The same order again is a re-send ...
    let again = client.upload(&entry("o-13")).await.unwrap();
    assert!(matches!(
        again.outcome().await,
        Outcome::Delivered {
            duplicate: true,
            ..
        }
    ));
    assert_eq!(sim.received().len(), 1);
    // ... unless 2.1's force_update asks the platform to replace its order.
    let mut forced = entry("o-13");
    forced.force_update = Some(bolink_types::enums::YesNo::Yes);
    forced.car_number = "京B54321".into();
    let replaced = client.upload(&forced).await.unwrap();
    assert!(matches!(
        replaced.outcome().await,
        Outcome::Delivered {
            duplicate: false,
            ..
        }
    ));
    assert_eq!(sim.received().len(), 2);
    let order = sim
        .in_park()
        .into_iter()
        .find(|o| o.order_id == "o-13")
        .unwrap();
    assert_eq!(order.car_number.as_deref(), Some("京B54321"));
}
