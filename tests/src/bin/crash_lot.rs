//! A charging system for the crash test: uploads entries `crash-0` ..
//! `crash-(N-1)` through a durable outbox, recording its progress in a
//! file, then sends whatever is pending and exits 0. The crash test kills it
//! with SIGKILL at random points and starts it again.
//!
//! Usage: `crash-lot PLATFORM_URL OUTBOX_FILE PROGRESS_FILE N`

use std::path::Path;
use std::time::Duration;

use bolink_http::sdk_http::{self, ClientConfig};
use bolink_sdk::engine::{EngineConfig, Pacing};
use bolink_sdk::outbox::{RedbStore, RetryPolicy};
use bolink_sdk::Credentials;
use bolink_sign::Key;
use bolink_types::enums::{CarType, EntryExitType};
use bolink_types::sdk::in_park;
use bolink_types::UnixSeconds;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, platform, outbox_path, progress_path, n] = args.as_slice() else {
        eprintln!("usage: crash-lot PLATFORM_URL OUTBOX_FILE PROGRESS_FILE N");
        std::process::exit(2);
    };
    let n: u64 = n.parse().expect("N is a number");
    let policy = RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    let store = RedbStore::open(outbox_path).expect("the outbox opens");
    let credentials = Credentials::new("200208", "21835", "crash-lot", Key::new("crash-key"));
    // Pacing is for the real platform; the simulator on loopback takes
    // any rate, and the test is about kills, not rates.
    let config = EngineConfig::default()
        .retry(policy)
        .pacing(Pacing::unlimited());
    let client = sdk_http::client(credentials, ClientConfig::with_base_url(platform.clone()))
        .store(store)
        .config(config)
        .build();
    let sender = tokio::spawn({
        let client = client.clone();
        async move { client.run_uploads(std::future::pending()).await }
    });
    let progress = Path::new(progress_path);
    let start: u64 = std::fs::read_to_string(progress)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    for i in start..n {
        let entry = in_park::Request::new(
            format!("京A{i:05}"),
            UnixSeconds(1_700_000_000 + i as i64),
            CarType::Small,
            EntryExitType::LanePlateScan,
            "crash".into(),
            format!("crash-{i}"),
            100,
            "A1".into(),
        );
        // Stored durably before this returns; sent now or on a later pass.
        client.upload(&entry).await.expect("the entry is stored");
        // A kill between the upload and this write re-uploads entry i on
        // restart: the platform recognises it by its order_id.
        let tmp = progress.with_extension("tmp");
        std::fs::write(&tmp, (i + 1).to_string()).expect("progress is written");
        std::fs::rename(&tmp, progress).expect("progress is saved");
    }
    while client.pending().await.expect("the outbox reads") > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client.shutdown();
    let _ = sender.await;
}
