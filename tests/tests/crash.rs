//! The crash test: a charging-system process (`crash-lot`) uploads N entries
//! against the simulator and is killed with SIGKILL at random points K
//! times; after the last restart every entry must have arrived, each
//! recorded exactly once (re-sends recognised by their idempotency key).
//!
//! `CRASH_N` and `CRASH_K` set N and K (CI runs the defaults, 40 and 5):
//! `CRASH_N=500 CRASH_K=20 cargo test -p bolink-conformance --test crash -- --nocapture`

use std::process::{Command, Stdio};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_entry_is_lost_or_recorded_twice_across_kills() {
    let n = env_or("CRASH_N", 40);
    let k = env_or("CRASH_K", 5);
    let sim = Simulator::new(SimulatorConfig::default())
        .park("200208", "21835", Key::new("crash-key"))
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the simulator starts");
    let dir = std::env::temp_dir().join(format!("bolink-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_crash-lot"))
            .arg(sim.base_url())
            .arg(dir.join("outbox.redb"))
            .arg(dir.join("progress"))
            .arg(n.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("crash-lot starts")
    };
    let mut rng = rand::thread_rng();
    let progress = || -> u64 {
        std::fs::read_to_string(dir.join("progress"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let mut kills = 0;
    for round in 0..k {
        let mut child = run();
        // Let it get somewhere between the previous kill and the end, then
        // kill it at a random moment of the entry it is on.
        let target = (round + 1) * n / (k + 1) + rng.gen_range(0..=n / (k + 1) / 2);
        let started = Instant::now();
        while progress() < target && child.try_wait().expect("child status").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "crash-lot makes no progress"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_micros(rng.gen_range(0..3000))).await;
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
            started.elapsed() < Duration::from_secs(120),
            "the last run did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "the last run failed: {status}");

    let received = sim.received();
    let deliveries = sim.deliveries();
    let mut lost = 0;
    let mut recorded_twice = 0;
    for i in 0..n {
        let order = format!("crash-{i}");
        match received
            .iter()
            .filter(|r| r.data["order_id"] == order.as_str())
            .count()
        {
            0 => lost += 1,
            1 => {}
            _ => recorded_twice += 1,
        }
    }
    let resent: u32 = deliveries.values().map(|count| count - 1).sum();
    println!("crash test: N={n} entries, K={k} runs ({kills} killed mid-way): lost {lost}, recorded twice {recorded_twice}, re-sends recognised {resent}");
    assert_eq!(lost, 0, "entries lost");
    assert_eq!(recorded_twice, 0, "entries recorded twice");
    assert_eq!(received.len() as u64, n);
    let _ = std::fs::remove_dir_all(&dir);
}
