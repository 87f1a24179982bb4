//! Load test on loopback: the platform simulator (signed SDK-HTTP logins)
//! and a vendor callback server (signed new-API payment results), each under
//! sustained requests from a fixed set of clients, bounded in count and time.
//!
//! ```sh
//! cargo run --release -p bolink-http --example load -- [REQUESTS] [CONCURRENCY]
//! ```
//!
//! Prints requests per second, p50/p99 latency and errors per target, and
//! the process's peak resident memory (servers and clients share it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bolink_http::newapi::{callback_router, CallbackConfig};
use bolink_http::simulator::{Simulator, SimulatorConfig};
use bolink_sdk::{Answer, CallbackHandler};
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::{sdk_http, Key};
use bolink_types::newapi::outpark;

const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Acknowledges every payment result.
struct Vendor;

impl CallbackHandler for Vendor {
    async fn outpark(&self, _result: outpark::Request) -> Answer<()> {
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let requests = args.next().and_then(Result::ok).unwrap_or(20_000);
    let concurrency = args.next().and_then(Result::ok).unwrap_or(16).max(1);
    let key = Key::new("8403A41ED5EF20BC");

    let sim = Simulator::new(SimulatorConfig::default())
        .park("200208", "21835", key.clone())
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the simulator starts");
    // Each request is a fully signed login: envelope, sign check, validation, a session.
    let login = r#"{"union_id":"200208","park_id":"21835","local_id":"load"}"#;
    let body = sdk_http::build("login", None, login, &key).expect("a login envelope");
    let url = format!("{}/bpd/upload.do", sim.base_url());
    report(
        "simulator, signed SDK-HTTP logins",
        hammer(url, body, requests, concurrency).await,
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    let router = callback_router(Vendor, CallbackConfig::new(key.clone()));
    tokio::spawn(bolink_http::serve::serve(
        listener,
        router,
        bolink_http::serve::ServeConfig::new(),
    ));
    let result = r#"{"service_name":"outpark","state":1,"park_id":"21835","order_id":"o-1","trade_no":"t-1","pay_type":"wallet","errmsg":"","total":6.5}"#;
    let body = bolink_sign::newapi::build(result, &key, None, BodyEncoding::Base64)
        .expect("a callback body");
    let url = format!("http://{addr}/bolink/outpark");
    report(
        "callback server, signed base64 payment results",
        hammer(url, body, requests, concurrency).await,
    );

    println!("peak RSS of the process: {}", peak_rss());
}

struct Figures {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
    concurrency: usize,
}

/// Sends `requests` copies of `body` from `concurrency` clients; a reply counts as an error unless it is `"state":1`.
async fn hammer(url: String, body: Vec<u8>, requests: usize, concurrency: usize) -> Figures {
    let http = reqwest::Client::new();
    let body = Arc::new(body);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            let mut errors = 0usize;
            for _ in 0..share {
                if started.elapsed() > TIME_LIMIT {
                    break;
                }
                let sent = Instant::now();
                let ok = match http.post(&url).body(body.as_ref().clone()).send().await {
                    Ok(response) => response
                        .bytes()
                        .await
                        .is_ok_and(|b| b.windows(9).any(|w| w == b"\"state\":1")),
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                errors += usize::from(!ok);
            }
            (latencies, errors)
        }));
    }
    let mut figures = Figures {
        latencies: Vec::with_capacity(requests),
        errors: 0,
        elapsed: Duration::ZERO,
        concurrency,
    };
    for worker in workers {
        let (mut latencies, errors) = worker.await.expect("a worker finishes");
        figures.latencies.append(&mut latencies);
        figures.errors += errors;
    }
    figures.elapsed = started.elapsed();
    figures.latencies.sort();
    figures
}

fn report(title: &str, f: Figures) {
    let n = f.latencies.len();
    let at = |p: f64| {
        f.latencies
            .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!("{title}: {n} requests from {} clients", f.concurrency);
    println!(
        "  throughput  {:.0} requests/s over {:.2} s",
        n as f64 / f.elapsed.as_secs_f64(),
        f.elapsed.as_secs_f64()
    );
    println!(
        "  latency     p50 {:?}  p99 {:?}  max {:?}",
        at(0.50),
        at(0.99),
        f.latencies.last().copied().unwrap_or_default()
    );
    println!("  errors      {}", f.errors);
}

/// The process's peak resident set size, from /proc (Linux).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown (no /proc)".into())
}
