//! The delivery engine under load on loopback: N entries uploaded through
//! an SDK-HTTP engine (pacing off, the simulator's rate limit off) into an
//! in-memory store and into a redb file, each time measuring how long
//! `upload()` takes to accept a record (the store's commit: an fsync for
//! redb) and how fast the engine drains them to the simulator.
//!
//! ```sh
//! cargo run --release -p bolink-http --example engine_load -- [UPLOADS]
//! ```

use std::sync::Arc;
use std::time::Instant;

use bolink_http::sdk_http::{client, ClientConfig};
use bolink_http::simulator::{Simulator, SimulatorConfig};
use bolink_sdk::engine::{EngineConfig, Outcome, Pacing};
use bolink_sdk::outbox::{MemoryStore, RedbStore, Store};
use bolink_sdk::{Credentials, Handler};
use bolink_sign::Key;
use bolink_types::enums::{CarType, EntryExitType};
use bolink_types::sdk::in_park;
use bolink_types::UnixSeconds;

struct Lot;
impl Handler for Lot {}

fn entry(i: usize) -> in_park::Request {
    in_park::Request::new(
        format!("京A{:05}", i % 100_000),
        UnixSeconds(1_700_000_000),
        CarType::Small,
        EntryExitType::LanePlateScan,
        "load",
        format!("load-{i}"),
        10,
        "A1",
    )
}

async fn run(title: &str, store: Arc<dyn Store>, uploads: usize) {
    let key = Key::new("load-key");
    let sim = Simulator::new(SimulatorConfig::default().rate_limit(None))
        .park("200208", "21835", key.clone())
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the simulator starts");
    let engine = client(
        Credentials::new("200208", "21835", "load", key),
        ClientConfig::with_base_url(sim.base_url()),
    )
    .shared_store(store)
    .config(EngineConfig::default().pacing(Pacing::unlimited()))
    .build();
    let running = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(Arc::new(Lot), std::future::pending()).await }
    });
    engine.login().await.expect("the lot logs in");
    let started = Instant::now();
    let mut accept = Vec::with_capacity(uploads);
    let mut tickets = Vec::with_capacity(uploads);
    for i in 0..uploads {
        let t = Instant::now();
        tickets.push(engine.upload(&entry(i)).await.expect("stored"));
        accept.push(t.elapsed());
    }
    let enqueued = started.elapsed();
    let mut delivered = 0;
    for ticket in tickets {
        if matches!(ticket.outcome().await, Outcome::Delivered { .. }) {
            delivered += 1;
        }
    }
    let drained = started.elapsed();
    engine.shutdown();
    let _ = running.await;
    accept.sort();
    let pct = |p: f64| accept[((accept.len() as f64 - 1.0) * p) as usize];
    println!("{title}: {uploads} entries");
    println!(
        "  upload() accepts  p50 {:?}  p99 {:?}  ({:.0} /s while enqueueing)",
        pct(0.5),
        pct(0.99),
        uploads as f64 / enqueued.as_secs_f64()
    );
    println!(
        "  delivered {delivered} of {uploads}, all within {:.2?} ({:.0} /s end to end)",
        drained,
        uploads as f64 / drained.as_secs_f64()
    );
    println!(
        "  simulator received {}, logins {}",
        sim.received().len(),
        sim.logins()
    );
    sim.shutdown().await;
}

#[tokio::main]
async fn main() {
    let uploads = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000usize)
        .max(1);
    run("memory store", Arc::new(MemoryStore::default()), uploads).await;
    let dir = std::env::temp_dir().join(format!("bolink-engine-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let store = RedbStore::open(dir.join("outbox.redb"))
        .await
        .expect("the store opens");
    run("redb store (fsync per commit)", Arc::new(store), uploads).await;
    let _ = std::fs::remove_dir_all(&dir);
}
