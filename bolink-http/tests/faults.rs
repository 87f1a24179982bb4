//! The engine against a stub platform that misbehaves, over real loopback
//! sockets. The stub answers as the platform's public server code does
//! (`reference/sdk/_protocol.json`): an unknown token is `HTTP 200
//! {"state":0,"errmsg":"error:token无效"}`, a re-sent upload is
//! "数据已处理过...", past the rate `request_over_times`; and on command it
//! goes silent, answers garbage, 5xx, slowly, cuts answers short, answers
//! with a huge body, refuses logins, or restarts.
//!
//! For every fault: nothing queued is lost, nothing is re-sent in a loop,
//! and the client recovers once the fault is gone.

mod common;

use common::{entry, Running, Seen};

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bolink_http::sdk_http::{client as lot_client, ClientConfig, SdkHttpClient};
use bolink_sdk::backoff::BackoffPolicy;
use bolink_sdk::engine::{EngineConfig, EngineError, Event, Outcome, Pacing, Ticket};
use bolink_sdk::outbox::{
    Claim, DamagedRecord, MemoryStore, NewRecord, Record, Release, RetryPolicy, Store, StoreError,
    StoreFuture,
};
use bolink_sdk::{Credentials, Handler};
use bolink_sign::Key;

const KEY: &str = "fault-key";

/// What the stub does to uploads (logins too, where said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Answers as the public server code does.
    None,
    /// Accepts the request and never answers.
    Silent,
    /// Answers 200 with something that is not JSON.
    Garbage,
    /// Answers with this status.
    Status(u16),
    /// Answers after this long (longer than the client's timeout).
    Slow(Duration),
    /// Declares a body and closes the connection in the middle of it.
    CutShort,
    /// `{"state":0,"errmsg":"request_over_times"}`.
    OverTimes,
    /// `{"state":0,"errmsg":"系统繁忙,请稍后再试"}`.
    Busy,
    /// A 2 MiB answer.
    Huge,
    /// Refuses logins (`error:登录失败`); uploads as normal.
    RefuseLogin,
}

#[derive(Default)]
struct Books {
    tokens: HashSet<String>,
    /// How many times each order's upload reached the stub.
    sends: BTreeMap<String, u32>,
    /// Orders the stub took (once each).
    accepted: BTreeSet<String>,
    /// When each upload arrived.
    arrivals: Vec<Instant>,
}

struct Stub {
    fault: Mutex<Fault>,
    books: Mutex<Books>,
    logins: AtomicUsize,
    login_attempts: AtomicUsize,
    next_token: AtomicUsize,
}

impl Stub {
    fn new() -> Arc<Stub> {
        Arc::new(Stub {
            fault: Mutex::new(Fault::None),
            books: Mutex::new(Books::default()),
            logins: AtomicUsize::new(0),
            login_attempts: AtomicUsize::new(0),
            next_token: AtomicUsize::new(1),
        })
    }

    fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap()
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap()
    }

    fn total_sends(&self) -> u32 {
        self.books().sends.values().sum()
    }

    /// The platform forgets every session (a restart, tokens expired).
    fn forget_tokens(&self) {
        self.books().tokens.clear();
    }
}

fn json(value: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        value.to_string(),
    )
        .into_response()
}

async fn upload(State(stub): State<Arc<Stub>>, body: Bytes) -> Response {
    let envelope: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return json(serde_json::json!({"state":0,"errmsg":"数据格式错误!"})),
    };
    let service = envelope["service_name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if service == "login" {
        stub.login_attempts.fetch_add(1, Ordering::SeqCst);
        if stub.fault() == Fault::RefuseLogin {
            return json(
                serde_json::json!({"state":0,"errmsg":"error:登录失败","service_name":"login"}),
            );
        }
        let token = format!("{:032x}", stub.next_token.fetch_add(1, Ordering::SeqCst));
        stub.books().tokens.insert(token.clone());
        stub.logins.fetch_add(1, Ordering::SeqCst);
        return json(serde_json::json!({"state":1,"token":token,"service_name":"login"}));
    }
    let order = envelope["data"]["order_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    {
        let mut books = stub.books();
        *books.sends.entry(order.clone()).or_default() += 1;
        books.arrivals.push(Instant::now());
    }
    match stub.fault() {
        Fault::Silent => std::future::pending::<()>().await,
        Fault::Garbage => return "<html>502 Bad Gateway</html>".into_response(),
        Fault::Status(status) => {
            return (
                StatusCode::from_u16(status).unwrap(),
                "upstream unavailable",
            )
                .into_response()
        }
        Fault::Slow(wait) => tokio::time::sleep(wait).await,
        Fault::CutShort => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(br#"{"state":1,"#)),
                Err(std::io::Error::other("connection reset")),
            ];
            return Response::builder()
                .header(header::CONTENT_LENGTH, "64")
                .body(Body::from_stream(futures_stream(chunks)))
                .unwrap();
        }
        Fault::OverTimes => {
            return json(serde_json::json!({"state":0,"errmsg":"request_over_times"}))
        }
        Fault::Busy => return json(serde_json::json!({"state":0,"errmsg":"系统繁忙,请稍后再试"})),
        Fault::Huge => return vec![b' '; 2 * 1024 * 1024].into_response(),
        Fault::None | Fault::RefuseLogin => {}
    }
    let token = envelope["token"].as_str().unwrap_or_default();
    let mut books = stub.books();
    if !books.tokens.contains(token) {
        return json(
            serde_json::json!({"state":0,"errmsg":"error:token无效","service_name":service}),
        );
    }
    if !books.accepted.insert(order.clone()) {
        return json(
            serde_json::json!({"state":0,"errmsg":"数据已处理过...","service_name":service,"order_id":order}),
        );
    }
    json(serde_json::json!({"state":1,"service_name":service}))
}

async fn download(State(stub): State<Arc<Stub>>, body: Bytes) -> Response {
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let token = request["token"].as_str().unwrap_or_default().to_string();
    if !stub.books().tokens.contains(&token) {
        return json(serde_json::json!({"state":0,"errmsg":"error:token无效"}));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    "500".into_response()
}

/// A stream of the given chunks (a body that breaks off).
fn futures_stream(
    chunks: Vec<Result<Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    struct Chunks(std::vec::IntoIter<Result<Bytes, std::io::Error>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Chunks(chunks.into_iter())
}

/// A stub serving on `addr` until the returned handle is aborted.
async fn serve(stub: Arc<Stub>, addr: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let app = Router::new()
        .route("/bpd/upload.do", post(upload))
        .route("/bpd/download.do", post(download))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (local, task)
}

struct Lot;
impl Handler for Lot {}

fn quick() -> BackoffPolicy {
    BackoffPolicy::new(Duration::from_millis(20), Duration::from_millis(200))
}

fn engine_config() -> EngineConfig {
    EngineConfig::default()
        .link_backoff(quick())
        .login_backoff(BackoffPolicy::new(
            Duration::from_millis(100),
            Duration::from_secs(1),
        ))
        .retry(
            RetryPolicy::default()
                .backoff_between(Duration::from_millis(20), Duration::from_millis(200)),
        )
        .pacing(Pacing::unlimited().rate_limited_pause(Duration::from_millis(200)))
}

fn client_with(
    addr: SocketAddr,
    store: Arc<dyn Store>,
    config: EngineConfig,
) -> (SdkHttpClient, Arc<Seen>) {
    client_timed(addr, store, config, Duration::from_millis(300))
}

/// A client whose requests time out after `timeout` (short where the stub
/// hangs on purpose, ample where a timeout would be a fault of its own).
fn client_timed(
    addr: SocketAddr,
    store: Arc<dyn Store>,
    config: EngineConfig,
    timeout: Duration,
) -> (SdkHttpClient, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let sink = seen.clone();
    let transport = ClientConfig::with_base_url(format!("http://{addr}"))
        .request_timeout(timeout)
        .poll_timeout(Duration::from_secs(2));
    let client = lot_client(
        Credentials::new("200208", "21835", "lane-1", Key::new(KEY)),
        transport,
    )
    .shared_store(store)
    .config(config)
    .on_event(move |event| sink.events.lock().unwrap().push(event.clone()))
    .build();
    (client, seen)
}

fn client(addr: SocketAddr) -> (SdkHttpClient, Arc<Seen>) {
    client_with(addr, Arc::new(MemoryStore::default()), engine_config())
}

fn run(client: &SdkHttpClient) -> Running {
    Running::start(client, Arc::new(Lot))
}

async fn upload_all(client: &SdkHttpClient, prefix: &str, n: usize) -> Vec<Ticket> {
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

/// Waits for every ticket; each must be delivered.
async fn all_delivered(tickets: Vec<Ticket>) {
    for ticket in tickets {
        let id = ticket.record().id;
        let outcome = tokio::time::timeout(Duration::from_secs(20), ticket.outcome())
            .await
            .unwrap_or_else(|_| panic!("record {id} was never settled"));
        assert!(
            matches!(outcome, Outcome::Delivered { .. }),
            "record {id}: {outcome:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_leaves_uploads_queued_without_a_resend_loop() {
    let faults = [
        Fault::Silent,
        Fault::Garbage,
        Fault::Status(500),
        Fault::Status(503),
        Fault::Slow(Duration::from_millis(600)),
        Fault::CutShort,
        Fault::OverTimes,
        Fault::Busy,
        Fault::Huge,
    ];
    for fault in faults {
        let stub = Stub::new();
        let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
        let (client, seen) = client(addr);
        client.login().await.unwrap();
        stub.set(fault);
        let running = run(&client);
        let tickets = upload_all(&client, "o", 10).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let during = stub.total_sends();
        let sends_during = stub.books().sends.clone();
        assert!(
            stub.books().accepted.is_empty(),
            "{fault:?}: the stub took nothing"
        );
        assert_eq!(client.pending().await.unwrap(), 10, "{fault:?}: all kept");
        // A pass stops at the first failure and the link backs off (20 ms
        // doubling to 200 ms, jittered): the sends in 1.5 s are bounded by
        // the backoff whatever the backlog (a resend loop makes hundreds,
        // one per record per pass).
        assert!(during <= 16, "{fault:?}: {during} sends during the fault");
        assert_eq!(
            seen.count(|e| matches!(e, Event::Refused { .. })),
            0,
            "{fault:?}: nothing refused"
        );
        stub.set(Fault::None);
        all_delivered(tickets).await;
        let (accepted, sends) = {
            let books = stub.books();
            (books.accepted.len(), books.sends.clone())
        };
        assert_eq!(accepted, 10, "{fault:?}: all arrived");
        // Once the fault is gone, each order goes out once more (twice
        // where an acknowledgement was lost and the platform says it has it).
        let mut most_after = 0;
        for (order, total) in sends {
            let before = sends_during.get(&order).copied().unwrap_or(0);
            most_after = most_after.max(total - before);
            assert!(
                total - before <= 2,
                "{fault:?}: {order} sent {} times after recovery",
                total - before
            );
        }
        println!(
            "{fault:?}: 10 queued, lost 0, {during} sends in 1.5 s of fault (most for one order {}), at most {most_after} per order after recovery",
            sends_during.values().max().copied().unwrap_or(0)
        );
        assert_eq!(client.pending().await.unwrap(), 0);
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_as_the_public_server_answers_it_means_one_relogin() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let (client, seen) = client(addr);
    let running = run(&client);
    all_delivered(upload_all(&client, "a", 10).await).await;
    assert_eq!(stub.logins.load(Ordering::SeqCst), 1);
    // The platform forgets the token: uploads and polls now get HTTP 200
    // {"state":0,"errmsg":"error:token无效"}.
    stub.forget_tokens();
    all_delivered(upload_all(&client, "b", 10).await).await;
    assert_eq!(stub.books().accepted.len(), 20);
    assert_eq!(stub.logins.load(Ordering::SeqCst), 2, "one re-login");
    assert_eq!(seen.count(|e| matches!(e, Event::Refused { .. })), 0);
    // The poll loop hears the platform again too (it polls with the new token).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stub.logins.load(Ordering::SeqCst), 2);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_back_off_with_a_backlog() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    stub.set(Fault::RefuseLogin);
    let (client, seen) = client(addr);
    let running = run(&client);
    let tickets = upload_all(&client, "o", 20).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Backoff from 100 ms doubling to 1 s: about 5 attempts in 2 s (the
    // upload loop and the poll loop share them), not hundreds.
    let attempts = stub.login_attempts.load(Ordering::SeqCst);
    assert!((1..=8).contains(&attempts), "{attempts} login attempts");
    assert_eq!(stub.total_sends(), 0, "nothing sent without a session");
    stub.set(Fault::None);
    all_delivered(tickets).await;
    assert_eq!(stub.logins.load(Ordering::SeqCst), 1);
    assert_eq!(seen.count(|e| matches!(e, Event::Refused { .. })), 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_restarting_mid_poll_is_rejoined() {
    let stub = Stub::new();
    let (addr, server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let (client, _seen) = client(addr);
    let running = run(&client);
    all_delivered(upload_all(&client, "before", 5).await).await;
    // Long polls are in flight; the platform goes away and comes back
    // without the sessions it had.
    server.abort();
    let _ = server.await;
    let tickets = upload_all(&client, "during", 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restarted = Stub::new();
    let (_, _server) = serve(restarted.clone(), addr).await;
    all_delivered(tickets).await;
    assert_eq!(restarted.books().accepted.len(), 5);
    assert_eq!(restarted.logins.load(Ordering::SeqCst), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_race_logs_in_once_and_loses_nothing() {
    for round in 0..25 {
        let stub = Stub::new();
        let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
        // A login cut short by a timeout on a loaded machine would count
        // twice at the stub: give exchanges the time they take.
        let (client, seen) = client_timed(
            addr,
            Arc::new(MemoryStore::default()),
            engine_config(),
            Duration::from_secs(5),
        );
        // Uploads from many tasks while run() starts.
        let uploads: Vec<_> = (0..16)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .upload(&entry(&format!("r{round}-{i}")))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let running = run(&client);
        let mut tickets = Vec::new();
        for upload in uploads {
            tickets.push(upload.await.unwrap());
        }
        all_delivered(tickets).await;
        assert_eq!(stub.logins.load(Ordering::SeqCst), 1, "round {round}");
        assert_eq!(
            seen.count(|e| matches!(e, Event::TokenRefused { .. })),
            0,
            "round {round}: no spurious token refusal"
        );
        assert_eq!(stub.books().accepted.len(), 16, "round {round}");
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_exchange_in_flight_and_keeps_the_rest() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    // The exchange in flight must be able to finish: a timeout here would
    // be a fault of its own on a loaded machine.
    let (client, _seen) = client_timed(
        addr,
        Arc::new(MemoryStore::default()),
        engine_config(),
        Duration::from_secs(5),
    );
    client.login().await.unwrap();
    stub.set(Fault::Slow(Duration::from_millis(200)));
    let running = run(&client);
    let tickets = upload_all(&client, "s", 5).await;
    // Wait until the first upload is at the stub, then stop.
    while stub.total_sends() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.stop().await;
    // The exchange in flight completed and settled its record; the others
    // were not touched and stay stored.
    assert_eq!(stub.books().accepted.len(), 1);
    assert_eq!(client.pending().await.unwrap(), 4);
    assert!(matches!(
        client.upload(&entry("late")).await,
        Err(EngineError::ShuttingDown)
    ));
    let mut outcomes = Vec::new();
    for ticket in tickets {
        outcomes.push(ticket.outcome().await);
    }
    assert!(matches!(outcomes[0], Outcome::Delivered { .. }));
    assert!(outcomes[1..]
        .iter()
        .all(|o| matches!(o, Outcome::StillQueued)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_returns_once_stored_while_the_platform_hangs() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let (client, _seen) = client(addr);
    client.login().await.unwrap();
    stub.set(Fault::Silent);
    let running = run(&client);
    client.upload(&entry("first")).await.unwrap();
    while stub.total_sends() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The delivery loop is stuck in an exchange; uploads do not wait for it.
    for i in 0..20 {
        tokio::time::timeout(
            Duration::from_secs(2),
            client.upload(&entry(&format!("more-{i}"))),
        )
        .await
        .expect("upload waited for the delivery loop")
        .unwrap();
    }
    assert_eq!(client.pending().await.unwrap(), 21);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_drains_at_the_paced_rate() {
    let stub = Stub::new();
    let (addr, server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    server.abort();
    let _ = server.await;
    let config = engine_config().pacing(Pacing::default());
    let (client, _seen) = client_with(addr, Arc::new(MemoryStore::default()), config);
    let running = run(&client);
    // A backlog builds while the platform is away.
    let tickets = upload_all(&client, "p", 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, _server) = serve(stub.clone(), addr).await;
    all_delivered(tickets).await;
    let arrivals = stub.books().arrivals.clone();
    assert_eq!(arrivals.len(), 20);
    // Default pacing: 8 uploads a second, "fewer than 10" as the in_park
    // page asks; 20 uploads span at least 19 spacings of 125 ms.
    let span = *arrivals.last().unwrap() - arrivals[0];
    assert!(span >= Duration::from_millis(19 * 125 - 50), "{span:?}");
    running.stop().await;
}

/// A store that fails every call while `failing` is set, as a disk that
/// filled up does, then recovers; and whose inserts return only
/// `insert_lag` after the record is stored (a slow fsync, a descheduled
/// task), so that a pass can claim it first.
struct FlakyStore {
    inner: MemoryStore,
    failing: std::sync::atomic::AtomicBool,
    failures: AtomicUsize,
    insert_lag: Duration,
}

impl FlakyStore {
    fn new(insert_lag: Duration) -> FlakyStore {
        FlakyStore {
            inner: MemoryStore::default(),
            failing: false.into(),
            failures: AtomicUsize::new(0),
            insert_lag,
        }
    }
}

impl FlakyStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Io(
                "No space left on device (os error 28)".into(),
            ))
        } else {
            Ok(())
        }
    }
}

macro_rules! flaky {
    ($self:ident, $call:expr) => {
        match $self.check() {
            Ok(()) => $call,
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    };
}

impl Store for FlakyStore {
    fn insert(&self, record: NewRecord) -> StoreFuture<'_, Record> {
        let inserted = flaky!(self, self.inner.insert(record));
        let lag = self.insert_lag;
        Box::pin(async move {
            let record = inserted.await;
            tokio::time::sleep(lag).await;
            record
        })
    }
    fn claim(&self, claim: Claim) -> StoreFuture<'_, Vec<Record>> {
        self.inner.claim(claim)
    }
    fn acknowledge(&self, id: u64, owner: &str) -> StoreFuture<'_, Record> {
        // As the contract asks: a failed removal still hides the record.
        match self.check() {
            Ok(()) => self.inner.acknowledge(id, owner),
            Err(e) => {
                let hide = self.inner.acknowledge(id, owner);
                Box::pin(async move {
                    let _ = hide.await;
                    Err(e)
                })
            }
        }
    }
    fn release(&self, release: Release) -> StoreFuture<'_, Record> {
        // A failed release leaves the lease in place.
        flaky!(self, self.inner.release(release))
    }
    fn next_due_ms(&self) -> StoreFuture<'_, Option<u64>> {
        self.inner.next_due_ms()
    }
    fn take_expired(&self, before: u64) -> StoreFuture<'_, Vec<Record>> {
        flaky!(self, self.inner.take_expired(before))
    }
    fn pending(&self) -> StoreFuture<'_, Vec<Record>> {
        self.inner.pending()
    }
    fn len(&self) -> StoreFuture<'_, usize> {
        self.inner.len()
    }
    fn take_damaged(&self) -> StoreFuture<'_, Vec<DamagedRecord>> {
        self.inner.take_damaged()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_neither_loses_records_nor_resends_in_a_loop() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let store = Arc::new(FlakyStore::new(Duration::ZERO));
    let (client, seen) = client_with(addr, store.clone(), engine_config());
    client.login().await.unwrap();
    let tickets = upload_all(&client, "d", 10).await;
    // The disk fills up before anything is sent.
    store.failing.store(true, Ordering::SeqCst);
    let running = run(&client);
    // Uploads are refused while the disk is full: nothing is accepted that
    // could not be stored.
    assert!(matches!(
        client.upload(&entry("refused")).await,
        Err(EngineError::Store(StoreError::Io(_)))
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Every record was delivered once; failed removals hid them, so none
    // was sent again while the store could not write.
    let sends = stub.books().sends.clone();
    assert!(sends.values().all(|&n| n == 1), "sends per order {sends:?}");
    assert!(store.failures.load(Ordering::SeqCst) > 0);
    assert!(seen.count(|e| matches!(e, Event::StoreFailed(_))) > 0);
    store.failing.store(false, Ordering::SeqCst);
    all_delivered(tickets).await;
    assert_eq!(stub.books().accepted.len(), 10);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_settled_before_its_upload_returned_still_reaches_its_ticket() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let store = Arc::new(FlakyStore::new(Duration::from_millis(500)));
    let (client, _seen) = client_with(addr, store, engine_config());
    client.login().await.unwrap();
    let uploading = {
        let client = client.clone();
        tokio::spawn(async move { client.upload(&entry("early")).await.unwrap() })
    };
    // Once the record is stored, a pass sends and settles it while its
    // upload has not returned yet (the store lags 500 ms after storing).
    tokio::time::timeout(Duration::from_secs(5), async {
        while client.pending().await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the record is stored");
    let report = client.flush().await;
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    let ticket = uploading.await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), ticket.outcome())
        .await
        .expect("the ticket learns the outcome that came before it");
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_settled_record_is_reported_once_whoever_settled_it() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let (client, seen) = client(addr);
    let running = run(&client);
    // Flushes from other tasks race the run loop.
    let flushers: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    client.flush().await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    let tickets = upload_all(&client, "e", 40).await;
    all_delivered(tickets).await;
    for flusher in flushers {
        flusher.await.unwrap();
    }
    let delivered: Vec<u64> = seen
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Delivered { record, .. } => Some(record.id),
            _ => None,
        })
        .collect();
    let distinct: BTreeSet<u64> = delivered.iter().copied().collect();
    assert_eq!(delivered.len(), 40, "each reported once");
    assert_eq!(distinct.len(), 40);
    running.stop().await;
}

/// How the new-API stub answers uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewApiAnswer {
    /// Base64 of `{"state":1,...}` (the older book's form).
    Base64,
    /// `{"state":"1"}`: the state as a string.
    StringState,
    /// Not JSON at all.
    Garbage,
    /// A signed envelope whose sign does not match.
    ForgedSign,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_api_answers_are_read_leniently_and_unreadable_ones_keep_the_record() {
    use base64::Engine as _;
    use bolink_http::newapi::{NewApiClient, NewApiConfig};
    use bolink_types::newapi::park_check;

    let mode = Arc::new(Mutex::new(NewApiAnswer::Garbage));
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new().fallback({
        let (mode, hits) = (mode.clone(), hits.clone());
        move |_body: Bytes| {
            let (mode, hits) = (mode.clone(), hits.clone());
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                let answer = match *mode.lock().unwrap() {
                    NewApiAnswer::Base64 => base64::engine::general_purpose::STANDARD
                        .encode(r#"{"state":1,"errmsg":"ok"}"#),
                    NewApiAnswer::StringState => r#"{"state":"1"}"#.to_string(),
                    NewApiAnswer::Garbage => "<html>oops</html>".to_string(),
                    NewApiAnswer::ForgedSign => {
                        r#"{"data":{"state":1},"sign":"00000000000000000000000000000000"}"#
                            .to_string()
                    }
                };
                answer.into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let config = NewApiConfig::new(format!("http://{addr}")).timeout(Duration::from_millis(300));
    let client = NewApiClient::builder(Key::new(KEY), config)
        .engine_config(engine_config())
        .build();
    let engine = client.engine().clone();
    let running = tokio::spawn(async move { engine.run_uploads(std::future::pending()).await });
    let check = || park_check::Request::new(200208, "21835", "京A12345");
    for unreadable in [NewApiAnswer::Garbage, NewApiAnswer::ForgedSign] {
        *mode.lock().unwrap() = unreadable;
        let ticket = client.upload(check()).await.unwrap();
        let before = hits.load(Ordering::SeqCst);
        while hits.load(Ordering::SeqCst) < before + 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            client.engine().pending().await.unwrap(),
            1,
            "{unreadable:?}: an unreadable answer keeps the record"
        );
        *mode.lock().unwrap() = NewApiAnswer::StringState;
        assert!(
            matches!(ticket.outcome().await, Outcome::Delivered { .. }),
            "a string state 1 is an acknowledgement"
        );
    }
    *mode.lock().unwrap() = NewApiAnswer::Base64;
    let ticket = client.upload(check()).await.unwrap();
    assert!(
        matches!(ticket.outcome().await, Outcome::Delivered { .. }),
        "a base64 answer is read"
    );
    assert_eq!(client.engine().pending().await.unwrap(), 0);
    client.engine().shutdown();
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_stored_while_the_engine_stops_still_learns_it_stays_queued() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    // The insert returns long after the record is stored: the engine stops
    // in between.
    let store = Arc::new(FlakyStore::new(Duration::from_millis(500)));
    let (client, _seen) = client_with(addr, store, engine_config());
    client.login().await.unwrap();
    // The platform does not take it, so only the stop can settle its ticket.
    stub.set(Fault::Status(503));
    let running = run(&client);
    let uploading = {
        let client = client.clone();
        tokio::spawn(async move { client.upload(&entry("stopping")).await.unwrap() })
    };
    // Stored, and its upload has not returned yet: stop the engine now.
    while client.pending().await.unwrap() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!uploading.is_finished());
    running.stop().await;
    let ticket = uploading.await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), ticket.outcome())
        .await
        .expect("a ticket registered after the stop learns it was left queued");
    assert_eq!(outcome, Outcome::StillQueued);
    assert_eq!(client.pending().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_returns_after_a_flush_in_flight_settled_its_record() {
    let stub = Stub::new();
    let (addr, _server) = serve(stub.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let store = Arc::new(MemoryStore::default());
    // After a failed pass the run loop sleeps through a long link backoff,
    // and uploads do not wake it: only a flush sends meanwhile.
    let config = engine_config().link_backoff(BackoffPolicy::new(
        Duration::from_secs(30),
        Duration::from_secs(30),
    ));
    let (client, _seen) = client_timed(addr, store.clone(), config, Duration::from_secs(5));
    client.login().await.unwrap();
    stub.set(Fault::Status(503));
    let running = run(&client);
    let ticket = client.upload(&entry("flushed")).await.unwrap();
    while stub.total_sends() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The run loop's pass failed and released the record: wait for that,
    // and for the record's retry time, so that a flush can claim it.
    let due = loop {
        let records = store.pending().await.unwrap();
        if records[0].attempts == 1 {
            break records[0].next_attempt_ms;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    while now_ms() <= due {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The platform takes it now, slowly; stop while the flush's exchange is
    // at the stub.
    stub.set(Fault::Slow(Duration::from_millis(500)));
    let flushing = {
        let client = client.clone();
        tokio::spawn(async move { client.flush().await })
    };
    while stub.total_sends() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.stop().await;
    // run() returned only once the exchange in flight settled its record,
    // so the ticket learns what the platform made of it.
    let outcome = tokio::time::timeout(Duration::from_secs(5), ticket.outcome())
        .await
        .expect("the ticket is answered");
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
    let report = flushing.await.unwrap();
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    assert_eq!(stub.books().accepted.len(), 1);
    assert_eq!(client.pending().await.unwrap(), 0);
}
