//! `bolink lot` against the simulator, as a shell user runs it.

use std::process::Command;

use bolink_http::simulator::{Simulator, SimulatorConfig};
use bolink_sign::Key;

fn lot(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bolink"))
        .arg("lot")
        .args(args)
        .output()
        .expect("bolink lot runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn summary(stdout: &str) -> serde_json::Value {
    let last = stdout.lines().last().expect("a summary line");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{last:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lot_uploads_entries_and_exits_and_sums_up() {
    let sim = Simulator::new(SimulatorConfig::default())
        .park("200208", "21835", Key::new("lot-key"))
        .start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let base = sim.base_url();
    let (code, stdout) = tokio::task::spawn_blocking(move || {
        lot(&[
            "--base-url",
            &base,
            "--park",
            "200208:21835:lot-key",
            "--enter",
            "5",
            "--exits",
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        summary(&stdout),
        serde_json::json!({"enqueued":10,"delivered":10,"refused":0,"pending":0,"logins":1})
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("exchange /bpd/upload.do in_park -> 200"))
            .count(),
        5,
        "{stdout}"
    );
    assert_eq!(sim.received().len(), 10);
    assert!(sim.in_park().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lot_with_the_wrong_key_ends_with_its_uploads_pending() {
    let sim = Simulator::new(SimulatorConfig::default())
        .park("200208", "21835", Key::new("lot-key"))
        .start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let base = sim.base_url();
    let (code, stdout) = tokio::task::spawn_blocking(move || {
        lot(&[
            "--base-url",
            &base,
            "--park",
            "200208:21835:not-the-key",
            "--enter",
            "3",
            "--run-for",
            "1",
        ])
    })
    .await
    .unwrap();
    // Nothing is lost: the entries stay queued while no login succeeds.
    assert_eq!(
        summary(&stdout),
        serde_json::json!({"enqueued":3,"delivered":0,"refused":0,"pending":3,"logins":0})
    );
    assert!(
        stdout.contains("login failed: login refused: error:签名错误"),
        "{stdout}"
    );
    assert_eq!(code, 0, "run-for ran out: {stdout}");
    assert!(sim.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lot_over_tcp_does_the_same() {
    let sim = Simulator::new(SimulatorConfig::default())
        .park("200208", "21835", Key::new("lot-key"))
        .tcp(([127, 0, 0, 1], 0).into())
        .start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let address = sim.tcp_addr().unwrap().to_string();
    let (code, stdout) = tokio::task::spawn_blocking(move || {
        lot(&[
            "--transport",
            "tcp",
            "--tcp-address",
            &address,
            "--park",
            "200208:21835:lot-key",
            "--enter",
            "5",
            "--exits",
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        summary(&stdout),
        serde_json::json!({"enqueued":10,"delivered":10,"refused":0,"pending":0,"logins":1})
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("exchange tcp in_park -> "))
            .count(),
        5,
        "{stdout}"
    );
    assert_eq!(sim.received().len(), 10);
    assert!(sim.in_park().is_empty());
}
