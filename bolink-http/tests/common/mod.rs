//! Scaffolding the engine tests against stub platforms share: a sink for
//! the engine's events, a running engine stopped on drop, an entry upload.

// Each test crate uses its own part of this module.
#![allow(dead_code)]

use std::future::pending;
use std::sync::{Arc, Mutex};

use bolink_http::sdk_http::SdkHttpClient;
use bolink_sdk::engine::{EngineError, Event};
use bolink_sdk::Handler;
use bolink_types::enums::{CarType, EntryExitType};
use bolink_types::sdk::in_park;
use bolink_types::UnixSeconds;

/// Everything the engine reported.
#[derive(Default)]
pub struct Seen {
    /// The events, in order.
    pub events: Mutex<Vec<Event>>,
}

impl Seen {
    /// How many events match `what`.
    pub fn count(&self, what: impl Fn(&Event) -> bool) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| what(e))
            .count()
    }
}

/// An engine running in a task until stopped (or dropped).
pub struct Running(
    SdkHttpClient,
    Option<tokio::task::JoinHandle<Result<(), EngineError>>>,
);

impl Running {
    /// Runs `client`'s engine with `handler`.
    pub fn start<H: Handler + 'static>(client: &SdkHttpClient, handler: Arc<H>) -> Running {
        let engine = client.clone();
        let task = tokio::spawn(async move { engine.run(handler, pending()).await });
        Running(client.clone(), Some(task))
    }

    /// Shuts the engine down and waits until `run` returned cleanly.
    pub async fn stop(mut self) {
        self.0.shutdown();
        if let Some(task) = self.1.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// A car entry with order `order`.
pub fn entry(order: &str) -> in_park::Request {
    in_park::Request::new(
        "京A12345",
        UnixSeconds(1_700_000_000),
        CarType::Small,
        EntryExitType::LanePlateScan,
        "gate",
        order,
        10,
        "A1",
    )
}
