//! The simulator as a lot's developer drives it, over real loopback
//! sockets: its TCP link against a raw client written here (`tcp`), pushes
//! and their verdicts over both links (`push`), lane routing (`lanes`),
//! callbacks to vendors' servers (`callback`), `/_simulator/state`
//! (`state`) and the trust checks (`trust`).

mod callback;
mod lanes;
mod push;
mod state;
mod tcp;
mod trust;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bolink_http::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use bolink_sdk::backoff::BackoffPolicy;
use bolink_sdk::engine::EngineConfig;
use bolink_sdk::outbox::RetryPolicy;
use bolink_sdk::{Credentials, Handler};
use bolink_sign::{sdk_http, Key};
use bolink_types::enums::{CarType, EntryExitType};
use bolink_types::sdk::{self, in_park};
use bolink_types::UnixSeconds;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const UNION: &str = "200208";
pub const PARK: &str = "21835";
pub const KEY: &str = "8403A41ED5EF20BC";

pub fn key() -> Key {
    Key::new(KEY)
}

/// A quick configuration for loopback: short long polls.
pub fn fast() -> SimulatorConfig {
    SimulatorConfig::default()
        .poll_hold(Duration::from_millis(500))
        .answer_timeout(Duration::from_secs(5))
}

/// A simulator with the park registered and the TCP link on.
pub async fn start(config: SimulatorConfig) -> SimulatorHandle {
    Simulator::new(config)
        .park(UNION, PARK, key())
        .tcp(loopback())
        .start(loopback())
        .await
        .expect("the simulator starts")
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// An entry's data JSON (valid against in_park's table).
pub fn entry(order_id: &str, empty_plot: i64) -> String {
    let request = in_park::Request::new(
        "京A12345",
        UnixSeconds(1_490_875_218),
        CarType::Small,
        EntryExitType::LanePlateScan,
        "880099",
        order_id,
        empty_plot,
        "A1",
    );
    String::from_utf8(sdk::Request::from(request).encode()).unwrap()
}

/// An entry's data JSON naming its service inside, as SDK-mode data does.
pub fn named_entry(order_id: &str) -> String {
    entry(order_id, 20).replacen('{', r#"{"service_name":"in_park","#, 1)
}

/// A raw client of the TCP link, written from the wire's description:
/// it writes `"\n" + json + "\r\n"` (the final `\n` ends the line for the
/// server's line decoder) and reads the server's `"\n" + json + "\r"`.
pub struct RawTcp {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawTcp {
    pub async fn connect(sim: &SimulatorHandle) -> RawTcp {
        let addr = sim.tcp_addr().expect("the TCP link listens");
        RawTcp {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Writes raw bytes.
    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Writes one line as the SDK frames it.
    pub async fn send(&mut self, line: &str) {
        self.write(format!("\n{line}\r\n").as_bytes()).await;
    }

    /// The next frame's content (between `\n` and `\r`), within `wait`;
    /// `None` when none came (or the connection closed).
    pub async fn frame_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(start) = self.buf.iter().position(|&b| b == b'\n') {
                if let Some(len) = self.buf[start + 1..].iter().position(|&b| b == b'\r') {
                    let content = self.buf[start + 1..start + 1 + len].to_vec();
                    self.buf.drain(..start + 2 + len);
                    return Some(String::from_utf8(content).expect("frames are UTF-8"));
                }
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// The next frame (within 5 s); panics when none comes.
    pub async fn frame(&mut self) -> String {
        self.frame_within(Duration::from_secs(5))
            .await
            .expect("the server answers")
    }

    /// The next frame as JSON.
    pub async fn json(&mut self) -> Value {
        let frame = self.frame().await;
        serde_json::from_str(&frame).unwrap_or_else(|e| panic!("not JSON ({e}): {frame:?}"))
    }

    /// Sends a line and reads the answer as JSON.
    pub async fn ask(&mut self, line: &str) -> Value {
        self.send(line).await;
        self.json().await
    }

    /// Whether the server closed the connection within `wait` (frames
    /// still in flight are skipped).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Logs in as `local_id` and returns the token.
    pub async fn login(&mut self, local_id: &str) -> String {
        let data =
            format!(r#"{{"union_id":"{UNION}","park_id":"{PARK}","local_id":"{local_id}"}}"#);
        let body = sdk_http::build("login", None, &data, &key()).unwrap();
        let reply = self.ask(std::str::from_utf8(&body).unwrap()).await;
        assert_eq!(reply["state"], 1, "{reply}");
        reply["token"].as_str().unwrap().to_string()
    }

    /// Sends a signed message and reads the answer as JSON.
    pub async fn upload(&mut self, token: &str, service_name: &str, data: &str) -> Value {
        let body = sdk_http::build(service_name, Some(token), data, &key()).unwrap();
        self.ask(std::str::from_utf8(&body).unwrap()).await
    }
}

/// Quick retries: the simulator is on loopback.
pub fn engine_config() -> EngineConfig {
    let quick = BackoffPolicy::new(Duration::from_millis(20), Duration::from_millis(200));
    EngineConfig::default()
        .link_backoff(quick)
        .login_backoff(quick)
        .retry(
            RetryPolicy::default()
                .backoff_between(Duration::from_millis(20), Duration::from_millis(200)),
        )
}

/// Runs an engine (uploads and downstream messages) until dropped.
pub struct Running(Box<dyn Fn() + Send + Sync>);

impl Drop for Running {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Runs the SDK-HTTP client of `local_id` with `handler`.
pub fn http_lot<H: Handler + 'static>(
    sim: &SimulatorHandle,
    local_id: &str,
    handler: H,
) -> Running {
    let client = bolink_http::sdk_http::client(
        Credentials::new(UNION, PARK, local_id, key()),
        bolink_http::sdk_http::ClientConfig::with_base_url(sim.base_url()),
    )
    .config(engine_config())
    .build();
    let engine = client.clone();
    tokio::spawn(async move { engine.run(Arc::new(handler), std::future::pending()).await });
    Running(Box::new(move || client.shutdown()))
}

/// The TCP-link client of `local_id`, with quick timeouts for loopback.
pub fn tcp_client(sim: &SimulatorHandle, local_id: &str) -> bolink_tcp::TcpClient {
    let config = bolink_tcp::TcpConfig::with_address(sim.tcp_addr().unwrap().to_string())
        .connect_timeout(Duration::from_millis(500))
        .request_timeout(Duration::from_secs(2))
        .heartbeat_interval(Duration::from_millis(200))
        .receive_wait(Duration::from_secs(1));
    bolink_tcp::client(Credentials::new(UNION, PARK, local_id, key()), config)
        .config(engine_config())
        .build()
}

/// Runs the TCP-link client of `local_id` with `handler`.
pub fn tcp_lot<H: Handler + 'static>(sim: &SimulatorHandle, local_id: &str, handler: H) -> Running {
    let client = tcp_client(sim, local_id);
    let engine = client.clone();
    tokio::spawn(async move { engine.run(Arc::new(handler), std::future::pending()).await });
    Running(Box::new(move || client.shutdown()))
}

/// A lot that answers nothing (every service refused as not supported).
pub fn push_lot() -> impl Handler {
    struct Nothing;
    impl Handler for Nothing {}
    Nothing
}

/// Waits (up to 10 s) until `check` holds.
pub async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reading an answer as JSON (reqwest is built without its `json` feature).
pub trait JsonValue {
    /// The body as JSON; panics when it is not.
    fn json_value(self) -> impl std::future::Future<Output = Value>;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let bytes = self.bytes().await.unwrap();
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    }
}

/// POSTs JSON to a control route; the status and the answer as JSON.
pub async fn control(sim: &SimulatorHandle, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, json)
}
