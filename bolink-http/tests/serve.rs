//! The hardened serving layer over real loopback sockets: raw `TcpStream`s
//! play slow, idle, oversized and malformed clients.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use bolink_http::serve::{serve, ServeConfig, JSON_CONTENT_TYPE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The short limits the tests run with (the 2-core machine stays fast).
const SHORT: Duration = Duration::from_millis(200);
/// Longer than any limit a test expects to see fire.
const LONG: Duration = Duration::from_secs(10);
/// How long a `/slow` handler takes.
const SLOW: Duration = Duration::from_millis(400);

fn router() -> Router {
    Router::new()
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(SLOW).await;
                "slow"
            }),
        )
        .route(
            "/hang",
            post(|| async {
                std::future::pending::<()>().await;
            }),
        )
}

async fn start(config: ServeConfig) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, tokio::spawn(serve(listener, router(), config)))
}

/// Long limits everywhere but the ones a test sets.
fn config() -> ServeConfig {
    ServeConfig::new()
        .idle_timeout(LONG)
        .header_read_timeout(LONG)
        .request_timeout(LONG)
}

fn request(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The protocol's error answer: JSON content type, `state` 0, an errmsg.
    fn protocol_error(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some(JSON_CONTENT_TYPE),
            "{self:?}"
        );
        let json: serde_json::Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"));
        assert_eq!(json["state"], 0, "{json}");
        json["errmsg"].as_str().expect("an errmsg").to_string()
    }
}

/// Reads one answer (head, then `content-length` bytes); `None` when the
/// connection closes before a full head.
async fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// Waits (at most `within`) for the server to close; true when it did
/// without sending anything more.
async fn closes_silently(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(within, stream.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => false,
        Err(_) => false,
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed_after_the_idle_timeout() {
    let (addr, _server) = start(config().idle_timeout(SHORT)).await;
    let mut stream = connect(addr).await;
    let opened = Instant::now();
    assert!(closes_silently(&mut stream, Duration::from_secs(3)).await);
    let waited = opened.elapsed();
    assert!(
        waited >= SHORT - Duration::from_millis(20) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_keep_alive_connection_is_closed_after_the_idle_timeout_between_requests() {
    let (addr, _server) = start(config().idle_timeout(SHORT)).await;
    let mut stream = connect(addr).await;
    // Requests closer together than the idle timeout keep it open.
    for i in 0..3 {
        stream
            .write_all(&request("/echo", &format!("n{i}")))
            .await
            .unwrap();
        let answer = read_answer(&mut stream).await.expect("an answer");
        assert_eq!(
            (answer.status, answer.body),
            (200, format!("n{i}").into_bytes())
        );
        tokio::time::sleep(SHORT / 2).await;
    }
    let answered = Instant::now();
    assert!(closes_silently(&mut stream, Duration::from_secs(3)).await);
    assert!(answered.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_half_sent_head_is_answered_408_and_closed_after_the_header_read_timeout() {
    // The idle timeout is long: only the header-read timeout can close it.
    let (addr, _server) = start(config().header_read_timeout(SHORT)).await;
    let mut stream = connect(addr).await;
    let started = Instant::now();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: test\r\n")
        .await
        .unwrap();
    // A byte now and then does not restart the clock (slowloris).
    for _ in 0..2 {
        tokio::time::sleep(SHORT / 4).await;
        stream.write_all(b"x").await.unwrap();
    }
    let answer = tokio::time::timeout(Duration::from_secs(3), read_answer(&mut stream))
        .await
        .expect("answered before the idle timeout")
        .expect("a 408");
    let waited = started.elapsed();
    assert_eq!(answer.status, 408);
    assert!(answer.protocol_error().contains("请求头读取超时"));
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(
        waited >= SHORT - Duration::from_millis(20) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(closes_silently(&mut stream, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn at_the_cap_the_longest_idle_connection_makes_room() {
    // The idle timeout is long: only eviction can free a place in time.
    let (addr, _server) = start(config().max_connections(2)).await;
    let mut first = connect(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut second = connect(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let mut third = connect(addr).await;
    third.write_all(&request("/echo", "hello")).await.unwrap();
    let answer = read_answer(&mut third).await.expect("served");
    assert_eq!((answer.status, &answer.body[..]), (200, &b"hello"[..]));
    assert!(started.elapsed() < Duration::from_secs(1));
    // The oldest idle one was closed for it, the other is still open.
    assert!(closes_silently(&mut first, Duration::from_secs(1)).await);
    second.write_all(&request("/echo", "still")).await.unwrap();
    assert_eq!(
        read_answer(&mut second).await.expect("served").body,
        b"still"
    );
}

#[tokio::test]
async fn at_the_cap_with_every_connection_busy_a_newcomer_gets_503_json_at_once() {
    let (addr, _server) = start(config().max_connections(2)).await;
    // One handler running, one head half sent: neither is idle.
    let mut busy = connect(addr).await;
    busy.write_all(&request("/slow", "")).await.unwrap();
    let mut heading = connect(addr).await;
    heading.write_all(b"POST /echo HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let mut newcomer = connect(addr).await;
    let answer = read_answer(&mut newcomer).await.expect("a 503");
    assert_eq!(answer.status, 503);
    assert!(answer.protocol_error().contains("服务繁忙"));
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(started.elapsed() < SLOW, "{:?}", started.elapsed());
    assert!(closes_silently(&mut newcomer, Duration::from_secs(2)).await);
    // The busy ones are served as usual.
    assert_eq!(read_answer(&mut busy).await.expect("served").body, b"slow");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_answered_413_without_reading_the_body() {
    let (addr, _server) = start(config().body_limit(1024)).await;
    let mut stream = connect(addr).await;
    // Only the head: were the body awaited, no answer would come.
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 1000000\r\n\r\n")
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(2), read_answer(&mut stream))
        .await
        .expect("answered without the body")
        .expect("a 413");
    assert_eq!(answer.status, 413);
    assert!(answer.protocol_error().contains("1024"));
    assert_eq!(answer.header("connection"), Some("close"));
    // Within the limit, the same route works.
    let mut stream = connect(addr).await;
    stream.write_all(&request("/echo", "small")).await.unwrap();
    assert_eq!(read_answer(&mut stream).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_client_still_sending_the_body_after_the_early_413_reads_it_without_a_reset() {
    let (addr, _server) = start(config().body_limit(1024)).await;
    let stream = connect(addr).await;
    let (mut reader, mut writer) = stream.into_split();
    let length = 2 * 1024 * 1024;
    // The client sends the whole body without waiting for an answer.
    let sender = tokio::spawn(async move {
        let head = format!("POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: {length}\r\n\r\n");
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..length / chunk.len() {
            writer.write_all(&chunk).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    // A client busy sending reads late.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut received = Vec::new();
    // Closed (not reset) after the answer: the server read and dropped the rest.
    tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut received))
        .await
        .expect("closed in time")
        .expect("not reset");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(text.contains("报文过大"), "{text}");
    // And the client's sending was not cut by a reset (an HTTP client
    // still writing the body would report that instead of the answer).
    sender
        .await
        .unwrap()
        .expect("the body went out without a reset");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_and_answered_413_json() {
    let (addr, _server) = start(config().body_limit(1024)).await;
    let mut stream = connect(addr).await;
    let chunk = "x".repeat(2000);
    let body = format!("{:x}\r\n{chunk}\r\n0\r\n\r\n", chunk.len());
    stream
        .write_all(
            format!(
                "POST /echo HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n{body}"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let answer = read_answer(&mut stream).await.expect("a 413");
    // axum's plain-text rejection, rewritten with its reason kept.
    assert_eq!(answer.status, 413);
    let errmsg = answer.protocol_error();
    assert!(errmsg.contains("报文过大"), "{errmsg}");
}

#[tokio::test]
async fn routing_errors_are_protocol_json() {
    let (addr, _server) = start(config()).await;
    let mut stream = connect(addr).await;
    stream
        .write_all(&request("/nothing-here", ""))
        .await
        .unwrap();
    let answer = read_answer(&mut stream).await.unwrap();
    assert_eq!(answer.status, 404);
    assert!(answer.protocol_error().contains("404"));
    // Same connection: keep-alive survives a rewritten answer.
    stream
        .write_all(b"GET /echo HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let answer = read_answer(&mut stream).await.unwrap();
    assert_eq!(answer.status, 405);
    assert!(answer.protocol_error().contains("405"));
    assert_eq!(answer.header("allow"), Some("POST"));
}

#[tokio::test]
async fn hypers_own_answers_to_unparsable_heads_carry_protocol_json() {
    let (addr, _server) = start(config().max_header_size(4096)).await;
    let cases: [(&str, Vec<u8>, u16); 3] = [
        ("bad request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        (
            "bad header",
            b"POST /echo HTTP/1.1\r\nno colon here\r\n\r\n".to_vec(),
            400,
        ),
        (
            "head too large",
            format!(
                "POST /echo HTTP/1.1\r\nhost: test\r\nx-junk: {}\r\n\r\n",
                "j".repeat(8000)
            )
            .into_bytes(),
            431,
        ),
    ];
    for (name, bytes, status) in cases {
        let mut stream = connect(addr).await;
        stream.write_all(&bytes).await.unwrap();
        let answer = read_answer(&mut stream)
            .await
            .unwrap_or_else(|| panic!("{name}: no answer"));
        assert_eq!(answer.status, status, "{name}");
        let errmsg = answer.protocol_error();
        assert!(errmsg.starts_with("error:"), "{name}: {errmsg}");
        assert_eq!(answer.header("connection"), Some("close"), "{name}");
    }
}

#[tokio::test]
async fn a_handler_over_the_request_timeout_is_answered_408_json() {
    let (addr, _server) = start(config().request_timeout(SHORT)).await;
    let mut stream = connect(addr).await;
    let started = Instant::now();
    stream.write_all(&request("/hang", "")).await.unwrap();
    let answer = read_answer(&mut stream).await.expect("a 408");
    assert_eq!(answer.status, 408);
    assert!(answer.protocol_error().contains("请求超时"));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_progress_then_returns() {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (addr, server) = start(config().graceful_shutdown(async {
        let _ = stop_rx.await;
    }))
    .await;
    let mut idle = connect(addr).await;
    let mut busy = connect(addr).await;
    busy.write_all(&request("/slow", "")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopped = Instant::now();
    stop_tx.send(()).unwrap();
    // The request in progress is answered; the idle connection is closed.
    let answer = read_answer(&mut busy).await.expect("answered");
    assert_eq!((answer.status, &answer.body[..]), (200, &b"slow"[..]));
    assert!(closes_silently(&mut idle, Duration::from_secs(1)).await);
    tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .expect("serve returned")
        .unwrap();
    assert!(stopped.elapsed() >= SLOW - Duration::from_millis(100));
    // Not accepting any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn graceful_shutdown_is_bounded_by_the_grace_period() {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (addr, server) = start(config().shutdown_grace(SHORT).graceful_shutdown(async {
        let _ = stop_rx.await;
    }))
    .await;
    let mut hung = connect(addr).await;
    hung.write_all(&request("/hang", "")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopped = Instant::now();
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .expect("serve returned after the grace period")
        .unwrap();
    let waited = stopped.elapsed();
    assert!(waited >= SHORT - Duration::from_millis(20), "{waited:?}");
    // The hung request's connection was closed, not answered.
    assert!(closes_silently(&mut hung, Duration::from_secs(1)).await);
}
