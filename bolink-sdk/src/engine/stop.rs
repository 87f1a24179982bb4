//! The engine's stop signal: set once by `run`'s shutdown, seen by every
//! loop at its waiting points (never in the middle of an exchange).

use tokio::sync::watch;
use tokio::time::Instant;

/// The setting side.
#[derive(Debug)]
pub(crate) struct StopSource(watch::Sender<bool>);

/// The watching side; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Stop(watch::Receiver<bool>);

pub(crate) fn stop_pair() -> (StopSource, Stop) {
    let (tx, rx) = watch::channel(false);
    (StopSource(tx), Stop(rx))
}

impl StopSource {
    pub(crate) fn stop(&self) {
        self.0.send_replace(true);
    }

    pub(crate) fn watch(&self) -> Stop {
        Stop(self.0.subscribe())
    }
}

impl Stop {
    pub(crate) fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the stop is set (at once if it is).
    pub(crate) async fn wait(&self) {
        let mut rx = self.0.clone();
        // An error means the source is gone, which also means stop.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }

    /// Sleeps until `at`; `false` when the stop came first.
    pub(crate) async fn sleep_until(&self, at: Instant) -> bool {
        if self.is_set() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(at) => !self.is_set(),
            _ = self.wait() => false,
        }
    }

    /// Sleeps for `wait`; `false` when the stop came first.
    pub(crate) async fn sleep(&self, wait: std::time::Duration) -> bool {
        self.sleep_until(Instant::now() + wait).await
    }
}
