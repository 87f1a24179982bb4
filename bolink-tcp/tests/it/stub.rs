//! A stub TCP platform that answers as the public parkingOS cloud server
//! does (`github:ParkingOS/ParkingOS_cloud`,
//! `parkingos_cloud_api/src/main/java/parkingos/com/bolink/netty/SensorServerHandler.java`,
//! `service/impl/DoUploadImpl.java`), in the order that code checks:
//!
//! * input split into lines at `\n` (a `\r` before it stripped), longer
//!   than 1024 bytes dropped, empty ones ignored (`LineBasedFrameDecoder(1024)`,
//!   `SensorServer.java` line 113; handler line 69);
//! * `0x11` in a line shorter than 6 characters is a heartbeat, answered
//!   `0x12` only on a channel that logged in (lines 80-91);
//! * a line that is not JSON gets no answer (the parse at line 93 throws
//!   inside the pool task);
//! * a re-sent in_park / out_park / upload_order (same sign, or a third
//!   time for one token and order) is answered `数据已处理过...` with
//!   service_name, order_id and car_number, before any other check
//!   (`TempUtil.isReSend`, handler lines 132-156);
//! * missing service_name or sign: `未识别到service_name标记` /
//!   `未识别到sign标记` (lines 169-194);
//! * login: the channel is registered first (line 253), then the sign is
//!   checked; success `{"state":1,"token":"<32 hex>","service_name":"login"}`,
//!   failure `{"state":0,"errmsg":"error:签名错误","service_name":"login"}`
//!   and the connection is closed (lines 495-515);
//! * otherwise: no token `未识别到token标记`, unknown token
//!   `error:token无效`, bad sign `error:签名错误` (`checkTokenSign`),
//!   more than the rate `request_over_times` (`isHit`, lines 404-439: 100
//!   requests of a token within 11 s; scaled down by tests that exercise
//!   it);
//! * uploads answered with `{"service_name":..,"state":1,...}` (in_park,
//!   out_park with `order_id`: `DoUploadImpl.java` lines 353-359,
//!   1015-1021), answers to downstream messages with an empty frame
//!   (lines 348-385);
//! * every frame written as `"\n" + json + "\r"` (line 474); a closed
//!   connection logs its session out (`channelInactive`, lines 441-453).
//!
//! Messages are handled in tasks of their own, as the server hands each
//! to a thread pool (lines 66-67); the stub counts a request that arrives
//! while another of the same connection is unanswered.
//!
//! Faults on command: answers written one byte at a time, with junk
//! between frames and several frames in one write, heartbeats left
//! unanswered, a frame over the client's limit instead of an answer, an
//! answer cut off by closing the connection, a restart.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bolink_sign::{sdk_http, Key};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What the stub does beyond answering.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Write every frame one byte at a time.
    pub byte_at_a_time: bool,
    /// Write junk (no LF) before every frame.
    pub junk: bool,
    /// Hold pushed messages and write them, with a `0x12`, in the same
    /// write as the next answer.
    pub coalesce: bool,
    /// Answer heartbeats (on logged-in channels).
    pub answer_heartbeats: bool,
    /// Instead of the next upload's answer, write a frame of this many
    /// bytes (the upload is taken all the same).
    pub oversize_next: Option<usize>,
    /// Take the next upload, write half its answer and close.
    pub cut_next: bool,
    /// Requests of one token allowed within `rate_window`.
    pub rate_limit: usize,
    /// The rate window.
    pub rate_window: Duration,
    /// How long each answer takes.
    pub answer_delay: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            byte_at_a_time: false,
            junk: false,
            coalesce: false,
            answer_heartbeats: true,
            oversize_next: None,
            cut_next: false,
            rate_limit: 100,
            rate_window: Duration::from_secs(11),
            answer_delay: Duration::ZERO,
        }
    }
}

/// A downstream answer the stub received.
#[derive(Debug, Clone)]
pub struct Received {
    pub conn: u64,
    pub service_name: String,
    pub token: String,
    pub data: Vec<u8>,
}

/// What the stub saw and did.
#[derive(Debug, Default)]
pub struct Books {
    /// token -> (channel key, connection)
    pub tokens: HashMap<String, (String, u64)>,
    /// channel key -> connection (`NettyChannelMap`).
    pub channels: HashMap<String, u64>,
    seen_signs: HashSet<String>,
    order_counts: HashMap<String, u32>,
    request_times: HashMap<String, VecDeque<Instant>>,
    /// Uploads taken, by order, in arrival order (once each).
    pub accepted: Vec<String>,
    /// Every upload frame that reached the stub, by order.
    pub sends: HashMap<String, u32>,
    /// Successful logins: (connection, token).
    pub logins: Vec<(u64, String)>,
    /// Answers to downstream messages.
    pub answers: Vec<Received>,
    pub connections: u64,
    pub heartbeats: u64,
    pub heartbeats_answered: u64,
    /// Heartbeats that came on a channel that had not logged in.
    pub heartbeats_before_login: u64,
    pub duplicates: u64,
    pub over_times: u64,
    pub token_refusals: u64,
    /// Requests that arrived while another of their connection was
    /// still unanswered.
    pub overlaps: u64,
    /// Frames whose token was not the connection's own login.
    pub foreign_tokens: u64,
}

enum Out {
    /// Frames to write in one write.
    Frames(Vec<u8>),
    /// Write these bytes, then close the connection.
    CutAfter(Vec<u8>),
}

struct ConnSlot {
    out: mpsc::UnboundedSender<Out>,
    task: JoinHandle<()>,
}

pub struct Platform {
    key: Key,
    faults: Mutex<Faults>,
    books: Mutex<Books>,
    conns: Mutex<HashMap<u64, ConnSlot>>,
    /// Pushes held for the next answer (coalescing).
    held: Mutex<Vec<Vec<u8>>>,
    next_conn: AtomicU64,
    next_token: AtomicU64,
}

/// A running stub platform.
pub struct Stub {
    pub addr: SocketAddr,
    pub platform: Arc<Platform>,
    accept: JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.accept.abort();
        for (_, slot) in self.platform.conns().drain() {
            slot.task.abort();
        }
    }
}

impl Stub {
    /// A stub on a free loopback port.
    pub async fn start(key: &str) -> Stub {
        Stub::start_on("127.0.0.1:0".parse().unwrap(), key, Faults::default()).await
    }

    /// A stub on `addr` (a restart on the same port).
    pub async fn start_on(addr: SocketAddr, key: &str, faults: Faults) -> Stub {
        let listener = TcpListener::bind(addr).await.expect("the stub binds");
        let addr = listener.local_addr().unwrap();
        let platform = Arc::new(Platform {
            key: Key::new(key),
            faults: Mutex::new(faults),
            books: Mutex::new(Books::default()),
            conns: Mutex::new(HashMap::new()),
            held: Mutex::new(Vec::new()),
            next_conn: AtomicU64::new(1),
            next_token: AtomicU64::new(1),
        });
        let accept = tokio::spawn(accept_loop(platform.clone(), listener));
        Stub {
            addr,
            platform,
            accept,
        }
    }

    /// Stops listening and drops every connection (the platform goes down).
    pub fn stop(self) -> SocketAddr {
        self.addr
    }

    pub fn faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.platform.faults.lock().unwrap());
    }

    pub fn books(&self) -> MutexGuard<'_, Books> {
        self.platform.books()
    }

    pub fn logins(&self) -> usize {
        self.books().logins.len()
    }

    /// The platform forgets every token (they expired); channels stay.
    pub fn forget_tokens(&self) {
        self.books().tokens.clear();
    }

    /// Closes every connection from the platform's side.
    pub fn kick(&self) {
        let slots: Vec<(u64, ConnSlot)> = self.platform.conns().drain().collect();
        for (id, slot) in slots {
            slot.task.abort();
            logout(&self.platform, id);
        }
    }

    /// Pushes a downstream message to the connection of `channel`
    /// (`park_id_local_id`); `false` when none is registered.
    pub fn push(&self, channel: &str, message: &[u8]) -> bool {
        let conn = match self.books().channels.get(channel) {
            Some(&conn) => conn,
            None => return false,
        };
        let framed = self.platform.frame(message);
        if self.platform.faults().coalesce {
            self.platform.held.lock().unwrap().push(framed);
            return true;
        }
        match self.platform.conns().get(&conn) {
            Some(slot) => slot.out.send(Out::Frames(framed)).is_ok(),
            None => false,
        }
    }

    /// Waits (up to 10 s) until `check` holds on the books.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&Books) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check(&self.books()) {
            assert!(Instant::now() < deadline, "the stub never saw: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Platform {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap()
    }

    fn faults(&self) -> Faults {
        self.faults.lock().unwrap().clone()
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, ConnSlot>> {
        self.conns.lock().unwrap()
    }

    /// `"\n" + message + "\r"`, after junk when asked.
    fn frame(&self, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.faults().junk {
            out.extend_from_slice(b"junk\r \r");
        }
        out.push(b'\n');
        out.extend_from_slice(message);
        out.push(b'\r');
        out
    }

    fn token(&self) -> String {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(self.next_token.fetch_add(1, Ordering::SeqCst));
        let a = hasher.finish();
        hasher.write_u64(a);
        format!("{a:016x}{:016x}", hasher.finish())
    }

    fn send(&self, conn: u64, out: Out) {
        if let Some(slot) = self.conns().get(&conn) {
            let _ = slot.out.send(out);
        }
    }
}

async fn accept_loop(platform: Arc<Platform>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let id = platform.next_conn.fetch_add(1, Ordering::SeqCst);
        platform.books().connections += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        // Registered before the connection can end and unregister itself.
        let mut conns = platform.conns();
        let task = tokio::spawn(serve_conn(platform.clone(), id, stream, rx));
        conns.insert(id, ConnSlot { out: tx, task });
    }
}

async fn serve_conn(
    platform: Arc<Platform>,
    id: u64,
    stream: TcpStream,
    rx: mpsc::UnboundedReceiver<Out>,
) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    // Whichever ends first ends the connection: a cut answer closes it
    // for reading too.
    tokio::select! {
        _ = write_loop(platform.clone(), write, rx) => {}
        _ = read_loop(platform.clone(), id, read) => {}
    }
    logout(&platform, id);
}

async fn read_loop(platform: Arc<Platform>, id: u64, mut read: OwnedReadHalf) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut lines = Lines::default();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match read.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for line in lines.push(&buf[..n]) {
            let text = String::from_utf8_lossy(&line).into_owned();
            if text.is_empty() {
                continue;
            }
            if text.contains("0x11") && text.encode_utf16().count() < 6 {
                heartbeat(&platform, id);
                continue;
            }
            if in_flight.fetch_add(1, Ordering::SeqCst) > 0 {
                platform.books().overlaps += 1;
            }
            // One task per message, as the server's pool runs them.
            let (platform, in_flight) = (platform.clone(), in_flight.clone());
            tokio::spawn(async move {
                let delay = platform.faults().answer_delay;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let reply = handle(&platform, id, &text);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                respond(&platform, id, reply);
            });
        }
    }
}

/// The server's `LineBasedFrameDecoder(1024)`.
#[derive(Default)]
struct Lines {
    buf: Vec<u8>,
    discarding: bool,
}

impl Lines {
    const MAX: usize = 1024;

    fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if !std::mem::take(&mut self.discarding) && line.len() <= Self::MAX {
                    out.push(line);
                }
            } else if !self.discarding {
                self.buf.push(b);
                if self.buf.len() > Self::MAX + 1 {
                    self.buf.clear();
                    self.discarding = true;
                }
            }
        }
        out
    }
}

async fn write_loop(
    platform: Arc<Platform>,
    mut write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Out>,
) {
    while let Some(out) = rx.recv().await {
        let (bytes, close) = match out {
            Out::Frames(bytes) => (bytes, false),
            Out::CutAfter(bytes) => (bytes, true),
        };
        let result = if platform.faults().byte_at_a_time {
            let mut result = Ok(());
            for byte in &bytes {
                result = write.write_all(std::slice::from_ref(byte)).await;
                if result.is_err() {
                    break;
                }
                let _ = write.flush().await;
                tokio::task::yield_now().await;
            }
            result
        } else {
            write.write_all(&bytes).await
        };
        if result.is_err() || close {
            break;
        }
    }
    // Dropping the write half sends FIN: the platform closed.
}

fn heartbeat(platform: &Platform, conn: u64) {
    let answer = {
        let mut books = platform.books();
        books.heartbeats += 1;
        let logged_in = books.channels.values().any(|&c| c == conn);
        if !logged_in {
            books.heartbeats_before_login += 1;
        }
        let answer = logged_in && platform.faults().answer_heartbeats;
        if answer {
            books.heartbeats_answered += 1;
        }
        answer
    };
    if answer {
        platform.send(conn, Out::Frames(platform.frame(b"0x12")));
    }
}

/// What to write back for one message.
enum Reply {
    None,
    Answer(String),
    /// Answer, then close (a refused login).
    AnswerAndClose(String),
    /// An upload taken: its answer, subject to the upload faults.
    Upload(String),
}

fn status(errmsg: &str) -> Reply {
    Reply::Answer(json!({"state": 0, "errmsg": errmsg}).to_string())
}

const UPLOADS: &[&str] = &[
    "in_park",
    "out_park",
    "upload_order",
    "upload_collector",
    "work_record",
    "upload_liftrod",
    "upload_gate",
    "upload_month_member",
    "upload_month_card",
    "month_pay_record",
    "upload_car_type",
    "upload_blackuser",
    "upload_price",
    "park_log",
    "upload_confirm_order",
];

fn handle(platform: &Platform, conn: u64, text: &str) -> Reply {
    let Ok(message) = serde_json::from_str::<Map<String, Value>>(text) else {
        return Reply::None;
    };
    let service_name = message.get("service_name").and_then(Value::as_str);
    let sign = message.get("sign").and_then(Value::as_str).unwrap_or("");
    let token = message.get("token").and_then(Value::as_str).unwrap_or("");
    let data = message.get("data").and_then(Value::as_object);
    let echo = |key: &str| data.and_then(|d| d.get(key)).cloned();
    if let Some(name) = service_name {
        let order_id = echo("order_id");
        let resend = (name.contains("out_park")
            || name.contains("in_park")
            || name.contains("upload_order"))
            && {
                let mut books = platform.books();
                if let Some(order) = order_id.as_ref().and_then(Value::as_str) {
                    *books.sends.entry(order.to_string()).or_default() += 1;
                }
                let by_sign = !sign.is_empty() && !books.seen_signs.insert(sign.to_string());
                let by_count = token.is_empty()
                    || order_id
                        .as_ref()
                        .and_then(Value::as_str)
                        .is_some_and(|order| {
                            let count = books
                                .order_counts
                                .entry(format!("{token}{name}{order}"))
                                .or_default();
                            *count += 1;
                            *count > 2
                        });
                by_sign || by_count
            };
        if resend {
            platform.books().duplicates += 1;
            let mut answer = json!({"state": 0, "errmsg": "数据已处理过...", "service_name": name});
            if let Some(order) = order_id {
                answer["order_id"] = order;
            }
            if let Some(car) = echo("car_number") {
                answer["car_number"] = car;
            }
            return Reply::Answer(answer.to_string());
        }
    }
    let Some(service_name) = service_name else {
        return status("未识别到service_name标记");
    };
    if sign.is_empty() {
        return status("未识别到sign标记");
    }
    // The sign covers data as sent (the server signs fastjson's compact
    // re-serialisation, the same bytes for compact JSON).
    let Ok(envelope) = sdk_http::Envelope::parse(text.as_bytes()) else {
        return Reply::None;
    };
    let signed = envelope.verify(&platform.key).is_ok();
    if service_name == "login" {
        let park_id = echo("park_id")
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        if park_id.is_empty() {
            return Reply::AnswerAndClose(
                json!({"state": 0, "errmsg": "未识别到park_id标记"}).to_string(),
            );
        }
        let mut key = park_id;
        if let Some(local) = echo("local_id").and_then(|v| v.as_str().map(String::from)) {
            if !local.is_empty() {
                key = format!("{key}_{local}");
            }
        }
        let mut books = platform.books();
        books.channels.insert(key.clone(), conn);
        if !signed {
            return Reply::AnswerAndClose(
                json!({"state": 0, "errmsg": "error:签名错误", "service_name": "login"})
                    .to_string(),
            );
        }
        // One token row per channel: a new login replaces the old token.
        books.tokens.retain(|_, (k, _)| *k != key);
        let token = platform.token();
        books.tokens.insert(token.clone(), (key, conn));
        books.logins.push((conn, token.clone()));
        return Reply::Answer(format!(
            r#"{{"state":1,"token":"{token}","service_name":"login"}}"#
        ));
    }
    if token.is_empty() {
        return status("未识别到token标记");
    }
    let mut books = platform.books();
    let Some(&(_, issued_on)) = books.tokens.get(token) else {
        books.token_refusals += 1;
        return status("error:token无效");
    };
    if issued_on != conn {
        books.foreign_tokens += 1;
    }
    if !signed {
        return status("error:签名错误");
    }
    let faults = platform.faults();
    let times = books.request_times.entry(token.to_string()).or_default();
    while times.len() > faults.rate_limit {
        times.pop_front();
    }
    let now = Instant::now();
    if times.len() == faults.rate_limit
        && times
            .front()
            .is_some_and(|&first| now - first < faults.rate_window)
    {
        books.over_times += 1;
        return status("request_over_times");
    }
    times.push_back(now);
    let Some(data) = data else {
        return status("data error");
    };
    if UPLOADS.contains(&service_name) {
        let mut answer = json!({"service_name": service_name, "state": 1, "errmsg": ""});
        if let Some(order) = data.get("order_id") {
            if let Some(order) = order.as_str() {
                if books.accepted.iter().any(|o| o == order) {
                    // DoUploadImpl's in_park: an order_id the park already
                    // has is refused "该订单已经存在" (the others are taken
                    // again, as the server updates its row).
                    if service_name == "in_park" {
                        return Reply::Upload(
                            json!({"service_name": "in_park", "state": 0, "errmsg": "该订单已经存在", "order_id": order})
                                .to_string(),
                        );
                    }
                } else {
                    books.accepted.push(order.to_string());
                }
            }
            answer["order_id"] = order.clone();
        }
        return Reply::Upload(answer.to_string());
    }
    // The answer to a downstream message: taken, answered with nothing.
    books.answers.push(Received {
        conn,
        service_name: service_name.to_string(),
        token: token.to_string(),
        data: envelope.data_bytes().to_vec(),
    });
    Reply::Answer(String::new())
}

fn respond(platform: &Platform, conn: u64, reply: Reply) {
    let (text, close, upload) = match reply {
        Reply::None => return,
        Reply::Answer(text) => (text, false, false),
        Reply::AnswerAndClose(text) => (text, true, false),
        Reply::Upload(text) => (text, false, true),
    };
    let mut bytes = Vec::new();
    if platform.faults().coalesce {
        // Everything held, an unasked-for heartbeat answer and the answer
        // in one write.
        for held in platform.held.lock().unwrap().drain(..) {
            bytes.extend_from_slice(&held);
        }
        bytes.extend_from_slice(&platform.frame(b"0x12"));
    }
    if upload {
        let mut faults = platform.faults.lock().unwrap();
        if let Some(size) = faults.oversize_next.take() {
            drop(faults);
            let pad = "x".repeat(size);
            bytes.extend_from_slice(&platform.frame(format!(r#"{{"pad":"{pad}"}}"#).as_bytes()));
            platform.send(conn, Out::Frames(bytes));
            return;
        }
        if std::mem::take(&mut faults.cut_next) {
            drop(faults);
            let framed = platform.frame(text.as_bytes());
            bytes.extend_from_slice(&framed[..framed.len() / 2]);
            platform.send(conn, Out::CutAfter(bytes));
            return;
        }
    }
    bytes.extend_from_slice(&platform.frame(text.as_bytes()));
    platform.send(
        conn,
        if close {
            Out::CutAfter(bytes)
        } else {
            Out::Frames(bytes)
        },
    );
}

/// `channelInactive` -> `logout`: the session of a closed channel ends.
fn logout(platform: &Platform, conn: u64) {
    platform.books().tokens.retain(|_, (_, on)| *on != conn);
    platform.conns().remove(&conn);
}
