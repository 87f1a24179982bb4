//! `bolink simulate` driven from outside, as a lot's developer drives it:
//! a lot runs here, the test pushes a price query through the control
//! route and reads the verdict, and the simulator prints one line per
//! exchange.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bolink_http::sdk_http::{client, ClientConfig};
use bolink_sdk::{Answer, Credentials, Handler};
use bolink_sign::{sdk_http, Key};
use bolink_types::enums::State;
use bolink_types::sdk::query_price;
use bolink_types::{Money, UnixSeconds};
use serde_json::{json, Value};

const KEY: &str = "8403A41ED5EF20BC";

/// `bolink simulate` on free ports, its stdout read line by line.
struct Simulate {
    child: Child,
    lines: mpsc::Receiver<String>,
    base_url: String,
    tcp: String,
}

impl Drop for Simulate {
    fn drop(&mut self) {
        // The process this test started, by its own handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Simulate {
    fn start() -> Simulate {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bolink"))
            .args([
                "simulate",
                "--listen",
                "127.0.0.1:0",
                "--tcp-listen",
                "127.0.0.1:0",
                "--park",
                &format!("200208:21835:{KEY}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bolink simulate runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut simulate = Simulate {
            child,
            lines,
            base_url: String::new(),
            tcp: String::new(),
        };
        // Port 0: the addresses are the ones it prints.
        let banner = simulate.line_where(|l| l.starts_with("Bolink platform simulator on "));
        simulate.base_url = banner["Bolink platform simulator on ".len()..].to_string();
        let tcp = simulate.line_where(|l| l.trim_start().starts_with("TCP link on "));
        simulate.tcp = tcp.trim_start()["TCP link on ".len()..].to_string();
        simulate
    }

    /// The next printed line that passes `check` (up to 20 s).
    fn line_where(&mut self, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if check(&line) => return line,
                Ok(line) => {
                    assert!(!line.contains(KEY), "a key was printed: {line}");
                    seen.push(line);
                }
                Err(_) => panic!("no such line; printed: {seen:#?}"),
            }
        }
    }
}

/// Prices every car at 5.00.
struct Lot;

impl Handler for Lot {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        let mut answer = query_price::HttpReturn::new(
            State::Success,
            60,
            request.park_id,
            request.order_id.unwrap_or_default(),
            Money::from_cents(500),
        );
        answer.car_number = request.car_number;
        answer.in_time = Some(UnixSeconds(1_561_676_330));
        Ok(answer)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_query_is_pushed_to_a_lot_and_judged() {
    let mut sim = tokio::task::spawn_blocking(Simulate::start).await.unwrap();
    let lot = client(
        Credentials::new("200208", "21835", "lane-1", Key::new(KEY)),
        ClientConfig::with_base_url(sim.base_url.clone()),
    )
    .build();
    let engine = lot.clone();
    let running =
        tokio::spawn(async move { engine.run(Arc::new(Lot), std::future::pending()).await });
    let http = reqwest::Client::new();
    let push = json!({
        "park_id": "21835",
        "message": {"service_name": "query_price", "park_id": "21835", "pay_scene": 0,
                    "car_number": "京A12345", "order_id": "o-1"},
        "timeout_ms": 10000,
    });
    let response = http
        .post(format!("{}/_simulator/push", sim.base_url))
        .body(push.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let report: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(report["verdict"], "answered", "{report}");
    assert_eq!(report["delivered"], true);
    assert_eq!(report["answer"]["price"], "5.00");
    assert_eq!(report["local_id"], "lane-1");
    let state: Value = serde_json::from_slice(
        &http
            .get(format!("{}/_simulator/state", sim.base_url))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["sessions"],
        json!([{"park_id": "21835", "local_id": "lane-1", "link": "http", "lanes": []}])
    );
    // The TCP link answers on the address printed: a login.
    let tcp = sim.tcp.clone();
    let login = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(tcp).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let data = r#"{"union_id":"200208","park_id":"21835","local_id":"raw"}"#;
        let body = sdk_http::build("login", None, data, &Key::new(KEY)).unwrap();
        stream.write_all(b"\n").unwrap();
        stream.write_all(&body).unwrap();
        stream.write_all(b"\r\n").unwrap();
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while answer.last() != Some(&b'\r') {
            stream.read_exact(&mut byte).unwrap();
            answer.push(byte[0]);
        }
        String::from_utf8(answer).unwrap()
    })
    .await
    .unwrap();
    let login: Value = serde_json::from_str(login.trim()).unwrap();
    assert_eq!(login["state"], 1, "{login}");
    // One line per exchange: direction, link, park/local_id, service, outcome.
    tokio::task::spawn_blocking(move || {
        sim.line_where(|l| {
            l.starts_with("up")
                && l.contains("http")
                && l.contains("21835/lane-1  login  logged in")
        });
        sim.line_where(|l| {
            l.starts_with("down") && l.contains("21835/lane-1  query_price  answered")
        });
        sim.line_where(|l| {
            l.starts_with("up") && l.contains("tcp") && l.contains("21835/raw  login  logged in")
        });
    })
    .await
    .unwrap();
    lot.shutdown();
    let _ = running.await;
}
