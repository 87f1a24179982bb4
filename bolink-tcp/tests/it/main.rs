//! The TCP transport over real loopback sockets, against a stub platform
//! that answers as the public parkingOS cloud server does (see `stub.rs`).

mod downstream;
mod engine;
mod faults;
mod session;
mod stub;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bolink_sdk::backoff::BackoffPolicy;
use bolink_sdk::engine::{EngineConfig, EngineError, Event, Outcome, Pacing, Ticket};
use bolink_sdk::outbox::RetryPolicy;
use bolink_sdk::{Answer, Credentials, Handler, Refusal};
use bolink_sign::{sdk_http, Key};
use bolink_tcp::{TcpClient, TcpConfig};
use bolink_types::enums::{CarType, EntryExitType, PayScene, State};
use bolink_types::sdk::{in_park, query_price};
use bolink_types::{Message, Money, UnixSeconds};

pub const UNION: &str = "200208";
pub const PARK: &str = "21835";
pub const LOCAL: &str = "lane-1";
/// The stub's channel key for this lot (`park_id + "_" + local_id`).
pub const CHANNEL: &str = "21835_lane-1";
pub const KEY: &str = "tcp-test-key";

pub fn credentials() -> Credentials {
    Credentials::new(UNION, PARK, LOCAL, Key::new(KEY))
}

/// Quick timeouts and a 100 ms heartbeat: the stub is on loopback.
pub fn tcp_config(addr: SocketAddr) -> TcpConfig {
    TcpConfig::with_address(addr.to_string())
        .connect_timeout(Duration::from_millis(500))
        .request_timeout(Duration::from_secs(1))
        .heartbeat_interval(Duration::from_millis(100))
        .heartbeat_misses(3)
        .reconnect_backoff(BackoffPolicy::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
        .receive_wait(Duration::from_secs(2))
}

pub fn engine_config() -> EngineConfig {
    let quick = BackoffPolicy::new(Duration::from_millis(20), Duration::from_millis(200));
    EngineConfig::default()
        .link_backoff(quick)
        .login_backoff(BackoffPolicy::new(
            Duration::from_millis(50),
            Duration::from_millis(500),
        ))
        .retry(
            RetryPolicy::default()
                .backoff_between(Duration::from_millis(20), Duration::from_millis(200)),
        )
        .pacing(Pacing::unlimited().rate_limited_pause(Duration::from_millis(200)))
        .exchange_timeout(Duration::from_secs(5))
        .shutdown_grace(Duration::from_secs(2))
}

/// Everything the engine reported.
#[derive(Default)]
pub struct Seen {
    events: Mutex<Vec<Event>>,
}

impl Seen {
    pub fn count(&self, what: impl Fn(&Event) -> bool) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| what(e))
            .count()
    }
}

pub fn client_with(tcp: TcpConfig, engine: EngineConfig) -> (TcpClient, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let sink = seen.clone();
    let client = bolink_tcp::client(credentials(), tcp)
        .config(engine)
        .on_event(move |event| sink.events.lock().unwrap().push(event.clone()))
        .build();
    (client, seen)
}

pub fn client(addr: SocketAddr) -> (TcpClient, Arc<Seen>) {
    client_with(tcp_config(addr), engine_config())
}

/// A lot that charges 5.00 for any car, after `delay`.
#[derive(Default)]
pub struct Lot {
    pub delay: Duration,
}

impl Handler for Lot {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        tokio::time::sleep(self.delay).await;
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
}

/// Runs the engine (uploads and downstream messages) until stopped or
/// dropped.
pub struct Running(
    TcpClient,
    Option<tokio::task::JoinHandle<Result<(), EngineError>>>,
);

impl Running {
    pub async fn stop(mut self) {
        self.0.shutdown();
        if let Some(task) = self.1.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

pub fn run(client: &TcpClient, lot: Lot) -> Running {
    let engine = client.clone();
    let task = tokio::spawn(async move { engine.run(Arc::new(lot), std::future::pending()).await });
    Running(client.clone(), Some(task))
}

pub fn entry(order: &str) -> in_park::Request {
    in_park::Request::new(
        "京A12345",
        UnixSeconds(1_700_000_000),
        CarType::Small,
        EntryExitType::LanePlateScan,
        "gate",
        order,
        10,
        "A1",
    )
}

pub async fn upload_all(client: &TcpClient, prefix: &str, n: usize) -> Vec<Ticket> {
    let mut tickets = Vec::new();
    for i in 0..n {
        tickets.push(
            client
                .upload(&entry(&format!("{prefix}-{i}")))
                .await
                .unwrap(),
        );
    }
    tickets
}

/// Waits for every ticket; each must be delivered. Returns, per ticket,
/// whether the platform answered that it already had it.
pub async fn all_delivered(tickets: Vec<Ticket>) -> Vec<bool> {
    let mut duplicates = Vec::new();
    for ticket in tickets {
        let id = ticket.record().id;
        let outcome = tokio::time::timeout(Duration::from_secs(20), ticket.outcome())
            .await
            .unwrap_or_else(|_| panic!("record {id} was never settled"));
        match outcome {
            Outcome::Delivered { duplicate, .. } => duplicates.push(duplicate),
            other => panic!("record {id}: {other:?}"),
        }
    }
    duplicates
}

/// Waits (up to 10 s) until `check` holds.
pub async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A signed query_price envelope as the platform pushes it.
pub fn price_query(order: &str) -> Vec<u8> {
    let mut request = query_price::Request::new(PARK, PayScene::InLotPrepay);
    request.car_number = Some("京A12345".into());
    request.order_id = Some(order.into());
    let data = String::from_utf8(request.encode()).unwrap();
    sdk_http::build("query_price", None, &data, &Key::new(KEY)).unwrap()
}

/// The price of a query_price answer the stub received (the stub takes
/// an answer only once its sign checked out against the key).
pub fn price_of(received: &stub::Received) -> Money {
    let answer: query_price::HttpReturn = bolink_types::decode(&received.data).unwrap();
    answer.price
}
