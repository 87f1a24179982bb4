//! The engine and the new-API client against a platform that misbehaves the
//! way real servers (and the proxies in front of them) do, byte for byte:
//! a raw `TcpListener` speaks just enough HTTP/1.1 to answer with an HTML
//! error page under HTTP 200, an empty or truncated body, a body shorter
//! than its Content-Length, `state` written as a string, a float or a
//! boolean, an acknowledgement naming another service or order, a 5xx
//! carrying `{"state":1}`, a connection reset after the request was read;
//! and on the download side garbage, forged signs, a message sent twice, a
//! message that breaks its table and an answer the platform refuses.
//!
//! The promises checked: an upload stays queued until readably
//! acknowledged (and a resend of something the platform stored is stored
//! once); every signed downstream message reaches the handler exactly once;
//! errors are typed.

mod common;

use common::{entry, Running, Seen};

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bolink_http::sdk_http::{client as lot_client, ClientConfig, SdkHttpClient};
use bolink_sdk::backoff::BackoffPolicy;
use bolink_sdk::engine::{EngineConfig, Event, Outcome, Pacing, TransportError};
use bolink_sdk::outbox::{MemoryStore, RetryPolicy};
use bolink_sdk::{Answer, Credentials, DownstreamError, Handler, InvalidMessage, Refusal};
use bolink_sign::{sdk_http, Key};
use bolink_types::enums::{PayScene, State};
use bolink_types::sdk::{self, query_price};
use bolink_types::{Money, UnixSeconds};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "hostile-key";
const PARK: &str = "21835";

/// How the platform answers uploads (logins are always answered well).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// As the public server code does: resend cache, token, books.
    Normal,
    /// HTTP 200 with a proxy's HTML error page (the platform never saw it).
    Html,
    /// HTTP 200 with an empty body (the platform never saw it).
    Empty,
    /// HTTP 200, complete as HTTP, with the JSON cut: `{"state":1,"serv`.
    TruncatedJson,
    /// A complete `{"state":1,...}` followed by nothing, though the
    /// Content-Length promised more, and the connection closes.
    ShortBody,
    /// `{"state":"1"}`.
    StateString,
    /// `{"state":1.0}`.
    StateFloat,
    /// `{"state":true}`.
    StateBool,
    /// `{"state":1,"service_name":"car_type_upload"}` for an in_park
    /// upload: the cloud does not always echo the name as sent (2.16).
    OtherService,
    /// `{"state":1,"service_name":"in_park","order_id":"someone-else"}`.
    OtherOrder,
    /// This HTTP status with a `{"state":1}` body.
    Status(u16),
    /// Reads the whole request, stores it, and resets the connection.
    ResetAfterRead,
}

impl Mode {
    /// Whether the platform behind the fault stored the upload (the
    /// answer broke on the way back); Html and Empty come from a proxy.
    fn reaches_platform(self) -> bool {
        !matches!(self, Mode::Html | Mode::Empty)
    }
}

/// How the platform answers the answers to its downstream messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnswerMode {
    Take,
    /// `{"state":0,"errmsg":"error:签名错误"}`.
    Refuse,
    /// Reads the first answer and resets the connection; takes the rest.
    ResetFirst,
}

/// How the platform answers logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginMode {
    Good,
    /// `{"state":1}` without a token.
    NoToken,
    /// An HTML page under HTTP 200.
    Html,
}

struct Platform {
    mode: Mutex<Mode>,
    login_mode: Mutex<LoginMode>,
    login_attempts: AtomicUsize,
    answer_mode: Mutex<AnswerMode>,
    tokens: Mutex<HashSet<String>>,
    next_token: AtomicUsize,
    /// The signs seen (the public server's resend cache).
    signs: Mutex<HashSet<String>>,
    /// How many times each order was written to the books.
    books: Mutex<BTreeMap<String, u32>>,
    /// How many times each order's upload arrived.
    sends: Mutex<BTreeMap<String, u32>>,
    /// Downstream messages waiting for a long poll.
    downstream: Mutex<VecDeque<Vec<u8>>>,
    /// The answers posted to downstream messages (their envelopes).
    answers: Mutex<Vec<serde_json::Value>>,
}

impl Platform {
    fn new() -> Arc<Platform> {
        Arc::new(Platform {
            mode: Mutex::new(Mode::Normal),
            login_mode: Mutex::new(LoginMode::Good),
            login_attempts: AtomicUsize::new(0),
            answer_mode: Mutex::new(AnswerMode::Take),
            tokens: Mutex::default(),
            next_token: AtomicUsize::new(1),
            signs: Mutex::default(),
            books: Mutex::default(),
            sends: Mutex::default(),
            downstream: Mutex::default(),
            answers: Mutex::default(),
        })
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn sends(&self, order: &str) -> u32 {
        self.sends.lock().unwrap().get(order).copied().unwrap_or(0)
    }

    fn stored(&self, order: &str) -> u32 {
        self.books.lock().unwrap().get(order).copied().unwrap_or(0)
    }

    fn push(&self, message: Vec<u8>) {
        self.downstream.lock().unwrap().push_back(message);
    }

    fn answers(&self) -> Vec<serde_json::Value> {
        self.answers.lock().unwrap().clone()
    }
}

/// What the raw server writes back.
enum Reply {
    /// A complete HTTP answer.
    Full {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Headers promising more than the body sent, then a close.
    Short { body: Vec<u8>, promised: usize },
    /// Nothing: the connection is reset.
    Reset,
}

fn json_reply(value: serde_json::Value) -> Reply {
    text_reply(200, &value.to_string())
}

fn text_reply(status: u16, body: &str) -> Reply {
    Reply::Full {
        status,
        content_type: "application/json;charset=utf-8",
        body: body.as_bytes().to_vec(),
    }
}

/// The platform's side of one request to `path`.
async fn handle(platform: &Platform, path: &str, body: &[u8]) -> Reply {
    let envelope: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return json_reply(serde_json::json!({"state":0,"errmsg":"数据格式错误!"})),
    };
    let token = envelope["token"].as_str().unwrap_or_default().to_string();
    if path == "/bpd/download.do" {
        if !platform.tokens.lock().unwrap().contains(&token) {
            return json_reply(serde_json::json!({"state":0,"errmsg":"error:token无效"}));
        }
        let next = platform.downstream.lock().unwrap().pop_front();
        return match next {
            Some(message) => Reply::Full {
                status: 200,
                content_type: "application/json;charset=utf-8",
                body: message,
            },
            None => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                text_reply(200, "500")
            }
        };
    }
    let service = envelope["service_name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if service == "login" {
        platform.login_attempts.fetch_add(1, Ordering::SeqCst);
        match *platform.login_mode.lock().unwrap() {
            LoginMode::Good => {}
            LoginMode::NoToken => {
                return json_reply(serde_json::json!({"state":1,"service_name":"login"}))
            }
            LoginMode::Html => return text_reply(200, "<html><body>login.jsp</body></html>"),
        }
        let token = format!(
            "{:032x}",
            platform.next_token.fetch_add(1, Ordering::SeqCst)
        );
        platform.tokens.lock().unwrap().insert(token.clone());
        return json_reply(serde_json::json!({"state":1,"token":token,"service_name":"login"}));
    }
    if service == "query_price" {
        // The lot's answer to a downstream message.
        let first = {
            let mut answers = platform.answers.lock().unwrap();
            answers.push(envelope.clone());
            answers.len() == 1
        };
        return match *platform.answer_mode.lock().unwrap() {
            AnswerMode::Take => json_reply(serde_json::json!({"state":1})),
            AnswerMode::ResetFirst if first => Reply::Reset,
            AnswerMode::ResetFirst => json_reply(serde_json::json!({"state":1})),
            AnswerMode::Refuse => {
                json_reply(serde_json::json!({"state":0,"errmsg":"error:签名错误"}))
            }
        };
    }
    let order = envelope["data"]["order_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    *platform
        .sends
        .lock()
        .unwrap()
        .entry(order.clone())
        .or_default() += 1;
    let sign = envelope["sign"].as_str().unwrap_or_default().to_string();
    let mode = *platform.mode.lock().unwrap();
    if mode != Mode::Normal {
        if mode.reaches_platform() && platform.tokens.lock().unwrap().contains(&token) {
            platform.signs.lock().unwrap().insert(sign);
            let mut books = platform.books.lock().unwrap();
            if !books.contains_key(&order) {
                books.insert(order.clone(), 1);
            }
        }
        return match mode {
            Mode::Html => Reply::Full {
                status: 200,
                content_type: "text/html",
                body: b"<html><head><title>Error</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>".to_vec(),
            },
            Mode::Empty => text_reply(200, ""),
            Mode::TruncatedJson => text_reply(200, r#"{"state":1,"serv"#),
            Mode::ShortBody => Reply::Short {
                body: format!(r#"{{"state":1,"service_name":"{service}","order_id":"{order}"}}"#)
                    .into_bytes(),
                promised: 200,
            },
            Mode::StateString => text_reply(200, r#"{"state":"1"}"#),
            Mode::StateFloat => text_reply(200, r#"{"state":1.0}"#),
            Mode::StateBool => text_reply(200, r#"{"state":true}"#),
            Mode::OtherService => text_reply(200, r#"{"state":1,"service_name":"car_type_upload"}"#),
            Mode::OtherOrder => text_reply(
                200,
                r#"{"state":1,"service_name":"in_park","order_id":"someone-else"}"#,
            ),
            Mode::Status(status) => text_reply(status, r#"{"state":1}"#),
            Mode::ResetAfterRead => Reply::Reset,
            Mode::Normal => unreachable!(),
        };
    }
    // As the public server code orders its checks: the resend cache
    // first, then the token, then the books.
    if !platform.signs.lock().unwrap().insert(sign) {
        return json_reply(
            serde_json::json!({"state":0,"errmsg":"数据已处理过...","service_name":service,"order_id":order}),
        );
    }
    if !platform.tokens.lock().unwrap().contains(&token) {
        return json_reply(
            serde_json::json!({"state":0,"errmsg":"error:token无效","service_name":service}),
        );
    }
    let mut books = platform.books.lock().unwrap();
    if books.contains_key(&order) {
        return json_reply(
            serde_json::json!({"service_name":service,"state":0,"errmsg":"该订单已经存在","order_id":order}),
        );
    }
    books.insert(order.clone(), 1);
    json_reply(serde_json::json!({"state":1,"service_name":service,"order_id":order}))
}

/// Reads one HTTP/1.1 request: its path and body.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let path = head.split_whitespace().nth(1)?.to_string();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some((path, buffer[head_end..head_end + length].to_vec()))
}

async fn connection(platform: Arc<Platform>, mut stream: TcpStream) {
    let Some((path, body)) = read_request(&mut stream).await else {
        return;
    };
    let reply = handle(&platform, &path, &body).await;
    let head = |status: u16, content_type: &str, length: usize| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        )
    };
    match reply {
        Reply::Full {
            status,
            content_type,
            body,
        } => {
            let mut out = head(status, content_type, body.len()).into_bytes();
            out.extend_from_slice(&body);
            let _ = stream.write_all(&out).await;
            let _ = stream.shutdown().await;
        }
        Reply::Short { body, promised } => {
            let mut out = head(200, "application/json;charset=utf-8", promised).into_bytes();
            out.extend_from_slice(&body);
            let _ = stream.write_all(&out).await;
            let _ = stream.flush().await;
            let _ = stream.shutdown().await;
        }
        Reply::Reset => {
            // SO_LINGER 0: closing sends RST instead of FIN. (Deprecated
            // because a non-zero linger blocks the dropping thread; a zero
            // one does not.)
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    }
}

/// The platform on a loopback port, one connection per request.
async fn serve(platform: Arc<Platform>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(connection(platform.clone(), stream));
        }
    });
    addr
}

/// A lot that prices every car at 5.00, a little slowly, and counts what
/// reached it.
#[derive(Default)]
struct Lot {
    price_queries: AtomicUsize,
    invalid: Mutex<Vec<InvalidMessage>>,
}

impl Handler for Lot {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        self.price_queries.fetch_add(1, Ordering::SeqCst);
        // Long enough that a second copy of the message arrives while the
        // first is being answered.
        tokio::time::sleep(Duration::from_millis(100)).await;
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
        answer.in_time = Some(UnixSeconds(1_700_000_000));
        Ok(answer)
    }

    async fn invalid_message(&self, message: InvalidMessage) {
        self.invalid.lock().unwrap().push(message);
    }
}

fn engine_config() -> EngineConfig {
    EngineConfig::default()
        .link_backoff(BackoffPolicy::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
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

/// A client with ample timeouts: every fault here is immediate, so a
/// timeout would be a fault of the loaded machine, not of the platform.
fn client(addr: SocketAddr) -> (SdkHttpClient, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let sink = seen.clone();
    let transport = ClientConfig::with_base_url(format!("http://{addr}"))
        .request_timeout(Duration::from_secs(10))
        .poll_timeout(Duration::from_secs(10));
    let client = lot_client(
        Credentials::new("200208", PARK, "lane-1", Key::new(KEY)),
        transport,
    )
    .shared_store(Arc::new(MemoryStore::default()))
    .config(engine_config())
    .on_event(move |event| sink.events.lock().unwrap().push(event.clone()))
    .build();
    (client, seen)
}

fn run(client: &SdkHttpClient, lot: Arc<Lot>) -> Running {
    Running::start(client, lot)
}

/// Waits (generously) until `condition` holds.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_answers_keep_the_upload_and_its_resend_is_stored_once() {
    let faults = [
        Mode::Html,
        Mode::Empty,
        Mode::TruncatedJson,
        Mode::ShortBody,
        Mode::OtherOrder,
        Mode::Status(500),
        Mode::Status(502),
        Mode::Status(503),
        Mode::ResetAfterRead,
    ];
    for fault in faults {
        let platform = Platform::new();
        let addr = serve(platform.clone()).await;
        let (client, seen) = client(addr);
        client.login().await.unwrap();
        platform.set(fault);
        let running = run(&client, Arc::new(Lot::default()));
        let ticket = client.upload(&entry("o-1")).await.unwrap();
        // Sent, answered unreadably, and sent again: it stayed queued.
        until(&format!("{fault:?}: a second send"), || {
            platform.sends("o-1") >= 2
        })
        .await;
        assert_eq!(client.pending().await.unwrap(), 1, "{fault:?}: kept");
        assert_eq!(
            seen.count(|e| matches!(e, Event::Delivered { .. } | Event::Refused { .. })),
            0,
            "{fault:?}: neither delivered nor refused on an unreadable answer"
        );
        assert!(
            seen.count(|e| matches!(e, Event::Retrying { .. })) >= 1,
            "{fault:?}: a retry was reported"
        );
        platform.set(Mode::Normal);
        let outcome = tokio::time::timeout(Duration::from_secs(30), ticket.outcome())
            .await
            .unwrap_or_else(|_| panic!("{fault:?}: never settled"));
        let Outcome::Delivered { duplicate, .. } = outcome else {
            panic!("{fault:?}: {outcome:?}");
        };
        // Where the platform had stored it, the resend is recognised as
        // the same order (the order_id is the idempotency key), never
        // written twice.
        assert_eq!(
            duplicate,
            fault.reaches_platform(),
            "{fault:?}: a duplicate exactly when the platform had it"
        );
        assert_eq!(platform.stored("o-1"), 1, "{fault:?}: stored once");
        assert_eq!(client.pending().await.unwrap(), 0);
        println!(
            "{fault:?}: kept, {} sends in all, delivered (duplicate: {duplicate})",
            platform.sends("o-1")
        );
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_written_as_fastjson_reads_it_is_an_acknowledgement() {
    // fastjson's getInteger takes "1", 1.0 and true as 1, as the
    // platform's Java counterparts read it.
    // And an acknowledgement naming the service its own way, as the cloud
    // answers 2.16, is one: only the order it names is compared.
    for lenient in [
        Mode::StateString,
        Mode::StateFloat,
        Mode::StateBool,
        Mode::OtherService,
    ] {
        let platform = Platform::new();
        let addr = serve(platform.clone()).await;
        let (client, seen) = client(addr);
        client.login().await.unwrap();
        platform.set(lenient);
        let running = run(&client, Arc::new(Lot::default()));
        let ticket = client.upload(&entry("o-2")).await.unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(30), ticket.outcome())
            .await
            .unwrap_or_else(|_| panic!("{lenient:?}: never settled"));
        assert!(
            matches!(
                outcome,
                Outcome::Delivered {
                    duplicate: false,
                    ..
                }
            ),
            "{lenient:?}: {outcome:?}"
        );
        assert_eq!(platform.sends("o-2"), 1, "{lenient:?}: sent once");
        assert_eq!(seen.count(|e| matches!(e, Event::Retrying { .. })), 0);
        running.stop().await;
    }
}

/// The data of a price query for `car`, numbered `query`.
fn price_query_data(car: &str, query: &str) -> String {
    let mut request = query_price::Request::new(PARK, PayScene::ExitSettlement);
    request.car_number = Some(car.into());
    request.order_id = Some("o-9".into());
    request.out_channel_id = Some("A1".into());
    request.query_order_no = Some(query.into());
    let request: sdk::Request = request.into();
    String::from_utf8(request.encode()).unwrap()
}

fn signed(data: &str, key: &str) -> Vec<u8> {
    sdk_http::build("query_price", None, data, &Key::new(key)).unwrap()
}

/// A running lot with a session, against a fresh platform.
async fn lot_against(platform: &Arc<Platform>) -> (SdkHttpClient, Arc<Seen>, Arc<Lot>, Running) {
    let addr = serve(platform.clone()).await;
    let (client, seen) = client(addr);
    let lot = Arc::new(Lot::default());
    let running = run(&client, lot.clone());
    (client, seen, lot, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_forged_downstream_messages_reach_no_handler_and_the_lot_serves_on() {
    let platform = Platform::new();
    platform.push(b"<html><body>504 Gateway Time-out</body></html>".to_vec());
    platform.push(br#"{"service_name":"query_price","sign":"AB"#.to_vec());
    platform.push(signed(
        &price_query_data("京A11111", "q-forged"),
        "not-the-key",
    ));
    platform.push(signed(&price_query_data("京A22222", "q-good"), KEY));
    let (_client, seen, lot, running) = lot_against(&platform).await;
    until("the good message answered", || {
        platform.answers().len() == 1
    })
    .await;
    until("three messages reported unanswered", || {
        seen.count(|e| matches!(e, Event::Unanswered(_))) == 3
    })
    .await;
    assert_eq!(
        seen.count(|e| matches!(e, Event::Unanswered(DownstreamError::Envelope(_)))),
        2,
        "the HTML page and the cut envelope are not envelopes"
    );
    assert_eq!(
        seen.count(|e| matches!(e, Event::Unanswered(DownstreamError::Sign(_)))),
        1,
        "the forged sign is named"
    );
    assert_eq!(lot.price_queries.load(Ordering::SeqCst), 1);
    let answer = &platform.answers()[0];
    assert_eq!(answer["data"]["car_number"], "京A22222", "{answer}");
    assert_eq!(answer["data"]["state"], 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_twice_reaches_the_handler_once_and_is_answered_the_same_twice() {
    let platform = Platform::new();
    let message = signed(&price_query_data("京A33333", "q-twice"), KEY);
    // Back to back (the second arrives while the first is being
    // answered), and once more after the first answer went out.
    platform.push(message.clone());
    platform.push(message.clone());
    let (_client, seen, lot, running) = lot_against(&platform).await;
    until("both copies answered", || platform.answers().len() == 2).await;
    platform.push(message.clone());
    until("the third copy answered", || platform.answers().len() == 3).await;
    // A distinct message (another query number) is a message of its own.
    platform.push(signed(&price_query_data("京A33333", "q-next"), KEY));
    until("the next query answered", || platform.answers().len() == 4).await;
    assert_eq!(
        lot.price_queries.load(Ordering::SeqCst),
        2,
        "the handler saw each distinct message once"
    );
    let answers = platform.answers();
    assert_eq!(answers[0]["data"], answers[1]["data"]);
    assert_eq!(answers[0]["data"], answers[2]["data"]);
    assert_eq!(answers[0]["data"]["query_order_no"], "q-twice");
    assert_eq!(answers[3]["data"]["query_order_no"], "q-next");
    // Each answer is reported once its post returned.
    until("every copy reported answered", || {
        seen.count(|e| {
            matches!(
                e,
                Event::Answered {
                    delivered: true,
                    ..
                }
            )
        }) == 4
    })
    .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_message_that_breaks_its_table_reaches_invalid_message() {
    let platform = Platform::new();
    let mut data: serde_json::Value =
        serde_json::from_str(&price_query_data("京A44444", "q-long")).unwrap();
    // car_number: at most 8 characters.
    data["car_number"] = "京A444444444444".into();
    platform.push(signed(&data.to_string(), KEY));
    let (_client, seen, lot, running) = lot_against(&platform).await;
    until("the refusal posted", || platform.answers().len() == 1).await;
    until("the answer reported", || {
        seen.count(|e| matches!(e, Event::Answered { .. })) == 1
    })
    .await;
    assert_eq!(lot.price_queries.load(Ordering::SeqCst), 0);
    let invalid = lot.invalid.lock().unwrap().clone();
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].service_name, "query_price");
    assert_eq!(invalid[0].data, data.to_string().into_bytes());
    assert!(
        invalid[0].report.to_string().contains("car_number"),
        "{}",
        invalid[0].report
    );
    let answer = &platform.answers()[0];
    assert_eq!(answer["data"]["state"], 0);
    assert!(
        answer["data"]["errmsg"]
            .as_str()
            .unwrap_or_default()
            .contains("car_number"),
        "{answer}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_the_platform_refuses_is_reported_undelivered() {
    let platform = Platform::new();
    *platform.answer_mode.lock().unwrap() = AnswerMode::Refuse;
    platform.push(signed(&price_query_data("京A55555", "q-refused"), KEY));
    let (_client, seen, lot, running) = lot_against(&platform).await;
    until("the answer reported", || {
        seen.count(|e| matches!(e, Event::Answered { .. })) == 1
    })
    .await;
    assert_eq!(
        seen.count(|e| matches!(
            e,
            Event::Answered {
                delivered: false,
                ..
            }
        )),
        1,
        "a refused answer is not called delivered"
    );
    assert_eq!(lot.price_queries.load(Ordering::SeqCst), 1);
    // A final refusal ("error:签名错误") is not a token problem: not re-sent.
    assert_eq!(platform.answers().len(), 1);
    assert_eq!(seen.count(|e| matches!(e, Event::TokenRefused { .. })), 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_resent_after_its_answer_was_lost_gets_the_same_answer_without_the_handler() {
    let platform = Platform::new();
    *platform.answer_mode.lock().unwrap() = AnswerMode::ResetFirst;
    let message = signed(&price_query_data("京A66666", "q-lost"), KEY);
    platform.push(message.clone());
    let (_client, seen, lot, running) = lot_against(&platform).await;
    until("the lost answer reported", || {
        seen.count(|e| {
            matches!(
                e,
                Event::Answered {
                    delivered: false,
                    ..
                }
            )
        }) == 1
    })
    .await;
    assert!(seen.count(|e| matches!(e, Event::LinkFailed(TransportError::Closed(_)))) >= 1);
    // The platform got no answer and sends the message again.
    platform.push(message);
    until("the resent message answered", || {
        seen.count(|e| {
            matches!(
                e,
                Event::Answered {
                    delivered: true,
                    ..
                }
            )
        }) == 1
    })
    .await;
    assert_eq!(lot.price_queries.load(Ordering::SeqCst), 1, "handled once");
    let answers = platform.answers();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["data"], answers[1]["data"], "answered the same");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_answered_with_a_platform_refusal_is_a_link_failure_and_polling_goes_on() {
    let platform = Platform::new();
    platform.push(r#"{"state":0,"errmsg":"系统繁忙,请稍后再试"}"#.as_bytes().to_vec());
    platform.push(signed(&price_query_data("京A77777", "q-after"), KEY));
    let (_client, seen, lot, running) = lot_against(&platform).await;
    until("the next message answered", || {
        platform.answers().len() == 1
    })
    .await;
    let link_failures: Vec<String> = seen
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::LinkFailed(failure) => Some(failure.to_string()),
            _ => None,
        })
        .collect();
    // Reported as a `TransportError::Closed` whose text carries the errmsg
    // (the connection itself did not close: see the report).
    assert!(
        link_failures.iter().any(|f| f.contains("系统繁忙")),
        "{link_failures:?}"
    );
    assert_eq!(seen.count(|e| matches!(e, Event::Unanswered(_))), 0);
    assert_eq!(seen.count(|e| matches!(e, Event::TokenRefused { .. })), 0);
    assert_eq!(lot.price_queries.load(Ordering::SeqCst), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_answered_without_a_token_or_with_html_is_a_failed_login_and_nothing_is_sent() {
    for bad in [LoginMode::NoToken, LoginMode::Html] {
        let platform = Platform::new();
        *platform.login_mode.lock().unwrap() = bad;
        let addr = serve(platform.clone()).await;
        let (client, seen) = client(addr);
        let login = client.login().await;
        let why = format!("{:?}", login.as_ref().err());
        assert!(login.is_err(), "{bad:?}: {login:?}");
        if bad == LoginMode::NoToken {
            assert!(
                why.contains("token"),
                "{bad:?}: the error names the token: {why}"
            );
        }
        let running = run(&client, Arc::new(Lot::default()));
        let ticket = client.upload(&entry("o-3")).await.unwrap();
        until(&format!("{bad:?}: logins retried"), || {
            platform.login_attempts.load(Ordering::SeqCst) >= 3
        })
        .await;
        assert_eq!(
            platform.sends("o-3"),
            0,
            "{bad:?}: nothing sent without a session"
        );
        assert!(seen.count(|e| matches!(e, Event::LoginFailed { .. })) >= 1);
        assert_eq!(client.pending().await.unwrap(), 1);
        *platform.login_mode.lock().unwrap() = LoginMode::Good;
        let outcome = tokio::time::timeout(Duration::from_secs(30), ticket.outcome())
            .await
            .unwrap_or_else(|_| panic!("{bad:?}: never settled"));
        assert!(
            matches!(
                outcome,
                Outcome::Delivered {
                    duplicate: false,
                    ..
                }
            ),
            "{bad:?}: {outcome:?}"
        );
        println!("{bad:?}: login error {why}");
        running.stop().await;
    }
}

mod new_api {
    use super::*;
    use bolink_http::newapi::{NewApiClient, NewApiConfig, NewApiError};
    use bolink_sdk::newapi::ReplyError;
    use bolink_types::newapi::park_check;

    /// A server that answers every request with `answer` (or holds it
    /// open for ever when `None`).
    async fn server(answer: Option<&'static str>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                match answer {
                    None => held.push(stream),
                    Some(answer) => {
                        tokio::spawn(async move {
                            if read_request(&mut stream).await.is_some() {
                                let out = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                                    answer.len()
                                );
                                let _ = stream.write_all(out.as_bytes()).await;
                                let _ = stream.shutdown().await;
                            }
                        });
                    }
                }
            }
        });
        addr
    }

    fn client(addr: SocketAddr, timeout: Duration) -> NewApiClient {
        let config = NewApiConfig::new(format!("http://{addr}")).timeout(timeout);
        NewApiClient::builder(Key::new(KEY), config)
            .engine_config(engine_config())
            .build()
    }

    fn check() -> park_check::Request {
        park_check::Request::new(200208, PARK, "京A12345")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_server_is_a_typed_timeout() {
        let addr = server(None).await;
        let timeout = Duration::from_millis(300);
        let sent = client(addr, timeout).send(check()).await;
        assert!(
            matches!(
                sent,
                Err(NewApiError::Transport(TransportError::Timeout(t))) if t == timeout
            ),
            "{sent:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn base64_garbage_is_a_malformed_reply() {
        // Not base64 at all; base64 of a cut JSON; base64 of HTML.
        for garbage in ["!!!%%%***", "eyJzdGF0ZSI6MSwi", "PGh0bWw+b29wczwvaHRtbD4="] {
            let addr = server(Some(garbage)).await;
            let sent = client(addr, Duration::from_secs(10)).send(check()).await;
            assert!(
                matches!(sent, Err(NewApiError::Reply(ReplyError::Malformed(_)))),
                "{garbage}: {sent:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrongly_signed_envelope_is_a_wrong_sign_error_and_keeps_an_upload() {
        let forged =
            r#"{"data":{"state":1,"errmsg":"ok"},"sign":"0123456789ABCDEF0123456789ABCDEF"}"#;
        let addr = server(Some(forged)).await;
        let client = client(addr, Duration::from_secs(10));
        let sent = client.send(check()).await;
        assert!(
            matches!(sent, Err(NewApiError::Reply(ReplyError::WrongSign(_)))),
            "{sent:?}"
        );
        // Queued, the same answer keeps the record.
        client.upload(check()).await.unwrap();
        let report = client.engine().flush().await;
        assert!(report.delivered.is_empty(), "{report:?}");
        assert!(report.refused.is_empty(), "{report:?}");
        assert_eq!(client.engine().pending().await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_state_written_as_fastjson_reads_it_is_read_alike_on_the_new_api() {
        // The SDK's answers are read as fastjson's getInteger reads them
        // ("1", 1.0 and true are 1); the new API's answers come from the
        // platform's Java too, and are read the same way.
        for answer in [
            r#"{"state":"1","data":{}}"#,
            r#"{"state":1.0,"data":{}}"#,
            r#"{"state":true,"data":{}}"#,
        ] {
            let addr = server(Some(answer)).await;
            let client = client(addr, Duration::from_secs(10));
            let reply = client.send(check()).await;
            if answer.contains("true") {
                // state reads as 1, so the answer must fit park_check's
                // response table, whose `state` is a numeric code: a typed
                // error that says so (the typed decoders do not take
                // booleans for codes).
                assert!(
                    matches!(&reply, Err(NewApiError::Reply(ReplyError::Invalid(e)))
                        if e.to_string().contains("state")),
                    "{answer}: {reply:?}"
                );
            } else {
                assert!(
                    matches!(&reply, Ok(reply) if reply.state == Some(1) && reply.is_success()),
                    "{answer}: {reply:?}"
                );
            }
            // Queued, each is an acknowledgement: the record leaves.
            client.upload(check()).await.unwrap();
            let report = client.engine().flush().await;
            assert_eq!(report.delivered.len(), 1, "{answer}: {report:?}");
            assert_eq!(client.engine().pending().await.unwrap(), 0, "{answer}");
        }
    }
}
