//! Load test of the platform simulator on loopback: sustained signed
//! requests from a fixed set of clients, bounded in count and time.
//!
//! ```sh
//! cargo run --release -p bolink-http --example load -- [REQUESTS] [CONCURRENCY]
//! ```
//!
//! Prints requests per second, p50/p99 latency, errors and the process's
//! peak resident memory (simulator and clients share the process).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bolink_http::simulator::{Simulator, SimulatorConfig};
use bolink_sign::{sdk_http, Key};

const UNION_ID: &str = "200208";
const PARK_ID: &str = "21835";
const TIME_LIMIT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let requests = args.next().and_then(Result::ok).unwrap_or(20_000);
    let concurrency = args.next().and_then(Result::ok).unwrap_or(16).max(1);
    let key = Key::new("8403A41ED5EF20BC");
    let sim = Simulator::new(SimulatorConfig::default())
        .park(UNION_ID, PARK_ID, key.clone())
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the simulator starts");
    let url = format!("{}/bpd/upload.do", sim.base_url());
    // Each request is a fully signed login: envelope parse, sign check,
    // validation and a session write on the simulator's side.
    let data = format!(r#"{{"union_id":"{UNION_ID}","park_id":"{PARK_ID}","local_id":"load"}}"#);
    let body = Arc::new(sdk_http::build("login", None, &data, &key).expect("a login envelope"));
    let http = reqwest::Client::new();
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
                    Ok(response) => {
                        response.status().is_success()
                            && response
                                .bytes()
                                .await
                                .is_ok_and(|b| b.windows(9).any(|w| w == b"\"state\":1"))
                    }
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                errors += usize::from(!ok);
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    for worker in workers {
        let (mut l, e) = worker.await.expect("a worker finishes");
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "simulator load: {} signed login requests, {concurrency} concurrent clients",
        latencies.len()
    );
    println!(
        "  throughput  {:.0} requests/s over {:.2} s",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  latency     p50 {:?}  p99 {:?}  max {:?}",
        percentile(0.50),
        percentile(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    println!("  errors      {errors}");
    println!("  peak RSS    {}", peak_rss());
    sim.shutdown().await;
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
