//! The crash test, driven through `bolink lot`: a charging-system process
//! uploads N entries and their exits against the simulator through a redb
//! outbox and is killed with SIGKILL at random points K times; after the
//! last restart every entry and exit must have arrived, each recorded once
//! (re-sends after a lost acknowledgement are recognised by their order id
//! and answered "数据已处理过").
//!
//! `CRASH_N` and `CRASH_K` set N and K (CI runs the defaults, 40 and 5):
//! `CRASH_N=500 CRASH_K=20 cargo test -p bolink-cli --test crash -- --nocapture`

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bolink_http::simulator::{Simulator, SimulatorConfig};
use bolink_sign::Key;
use rand::Rng;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Entries and exits stored so far, from the lot's progress file.
fn progress(outbox: &Path) -> u64 {
    let mut path = outbox.as_os_str().to_owned();
    path.push(".progress");
    std::fs::read_to_string(path)
        .ok()
        .map(|text| {
            text.split_whitespace()
                .filter_map(|n| n.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_recorded_twice_across_kills_over_http() {
    crash_test("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_recorded_twice_across_kills_over_tcp() {
    crash_test("tcp").await;
}

async fn crash_test(transport: &str) {
    let n = env_or("CRASH_N", 40);
    let k = env_or("CRASH_K", 5);
    let sim = Simulator::new(SimulatorConfig::default())
        .park("200208", "21835", Key::new("crash-key"))
        .tcp(([127, 0, 0, 1], 0).into())
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the simulator starts");
    let link = match transport {
        "tcp" => vec![
            "--tcp-address".to_string(),
            sim.tcp_addr().expect("a TCP listener").to_string(),
        ],
        _ => vec!["--base-url".to_string(), sim.base_url()],
    };
    let dir = std::env::temp_dir().join(format!(
        "bolink-lot-crash-{transport}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let outbox = dir.join("outbox.redb");
    let run = || -> Child {
        Command::new(env!("CARGO_BIN_EXE_bolink"))
            .args(["lot", "--transport", transport])
            .args(&link)
            .args(["--park", "200208:21835:crash-key", "--local-id", "crash"])
            .arg("--outbox")
            .arg(&outbox)
            .args(["--enter", &n.to_string(), "--exits"])
            .stdout(Stdio::null())
            // Its stderr is the test's: only what went wrong.
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("bolink lot starts")
    };
    let mut rng = rand::thread_rng();
    let total = 2 * n;
    let mut kills = 0;
    for round in 0..k {
        let mut child = run();
        // Let it get somewhere between the previous kill and the end, then
        // kill it at a random moment.
        let target = (round + 1) * total / (k + 1) + rng.gen_range(0..=total / (k + 1) / 2);
        let started = Instant::now();
        while progress(&outbox) < target && child.try_wait().expect("child status").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "bolink lot makes no progress"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_micros(rng.gen_range(0..150_000))).await;
        if child.try_wait().expect("child status").is_none() {
            child.kill().expect("SIGKILL");
            kills += 1;
        }
        child.wait().expect("the child is reaped");
    }
    let mut last = run();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = last.try_wait().expect("child status") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the last run did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "the last run failed: {status}");

    let received = sim.received();
    let deliveries = sim.deliveries();
    let (mut lost, mut recorded_twice) = (0, 0);
    for i in 0..n {
        let order = format!("crash-{i}");
        for service in ["in_park", "out_park"] {
            match received
                .iter()
                .filter(|r| r.service_name == service && r.data["order_id"] == order.as_str())
                .count()
            {
                0 => lost += 1,
                1 => {}
                _ => recorded_twice += 1,
            }
        }
    }
    let resent: u32 = deliveries.values().map(|count| count - 1).sum();
    println!(
        "crash test through bolink lot over {transport}: N={n} entries and exits, K={k} runs ({kills} killed mid-way): lost {lost}, recorded twice {recorded_twice}, re-sends recognised {resent}"
    );
    assert_eq!(lost, 0, "uploads lost");
    assert_eq!(recorded_twice, 0, "uploads recorded twice");
    assert_eq!(received.len() as u64, total);
    assert!(sim.in_park().is_empty(), "every car left");
    let _ = std::fs::remove_dir_all(&dir);
}
