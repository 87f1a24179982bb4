//! What the engine tells the application: an event for everything that
//! happened, and the outcome of each upload for whoever waits on it.

use std::time::Duration;

use crate::outbox::{DamagedRecord, Record, StoreError};
use crate::{Downstream, DownstreamError};

use super::transport::TransportError;

/// Something the engine did or met. Every settled record is reported
/// here exactly once, whichever task settled it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A login succeeded; `generation` counts them.
    LoggedIn {
        /// Which login of this engine it was (1 for the first).
        generation: u64,
    },
    /// A login failed (refused, unreadable, or the link failed); the next
    /// is not tried before `retry_in`.
    LoginFailed {
        /// What went wrong.
        reason: String,
        /// The backoff before the next login.
        retry_in: Duration,
    },
    /// The platform refused the session's token; the engine logs in again.
    TokenRefused {
        /// The platform's errmsg (or the HTTP status).
        reason: String,
    },
    /// The platform took an upload; it left the outbox.
    Delivered {
        /// The record.
        record: Record,
        /// `true` when the platform answered that it already had it (a
        /// re-send after a lost acknowledgement).
        duplicate: bool,
    },
    /// The platform refused an upload for good; it left the outbox.
    Refused {
        /// The record.
        record: Record,
        /// The platform's errmsg.
        errmsg: String,
    },
    /// An upload was not settled this time and waits for its next attempt.
    Retrying {
        /// The record, with its new attempt count and next attempt time.
        record: Record,
        /// Why.
        reason: String,
    },
    /// An upload reached the outbox's expiry undelivered; it left the outbox.
    Expired {
        /// The record.
        record: Record,
    },
    /// A stored record could not be read back (changed bytes): set aside,
    /// never sent.
    Damaged(DamagedRecord),
    /// The store failed; the engine retries after a backoff.
    StoreFailed(StoreError),
    /// The link failed (connect, timeout, a 5xx, a closed connection).
    LinkFailed(TransportError),
    /// A downstream message was answered through the handler (or refused).
    Answered {
        /// The message, its answer and the signed envelope sent.
        downstream: Box<Downstream>,
        /// Whether the answer reached the platform (and, where the link
        /// acknowledges answers, was taken).
        delivered: bool,
    },
    /// A downstream message was not answered: it could not be trusted or
    /// read (bad sign, not an envelope).
    Unanswered(DownstreamError),
    /// A handler panicked; the message was answered as an internal error.
    HandlerPanicked {
        /// The service it was called for.
        service_name: String,
    },
}

/// What finally became of one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The platform took it (or already had it: `duplicate`).
    Delivered {
        /// The record.
        record: Record,
        /// Already delivered before (a re-send).
        duplicate: bool,
    },
    /// The platform refused it for good.
    Refused {
        /// The record.
        record: Record,
        /// The platform's errmsg.
        errmsg: String,
    },
    /// It expired in the outbox.
    Expired {
        /// The record.
        record: Record,
    },
    /// The engine shut down (or was dropped) before settling it; it is
    /// still in the store and goes out when an engine runs over the store
    /// again.
    StillQueued,
}

/// An accepted upload: stored, so safe from crashes (with a durable
/// store); [`Ticket::outcome`] waits for what the platform made of it.
#[derive(Debug)]
pub struct Ticket {
    pub(crate) record: Record,
    pub(crate) outcome: tokio::sync::oneshot::Receiver<Outcome>,
}

impl Ticket {
    /// The stored record.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// Waits until the upload is settled (delivered, refused, expired), or
    /// the engine shuts down or is dropped first ([`Outcome::StillQueued`]).
    pub async fn outcome(self) -> Outcome {
        self.outcome.await.unwrap_or(Outcome::StillQueued)
    }
}

/// Counters of one engine, since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Uploads accepted into the store.
    pub enqueued: u64,
    /// Uploads the platform took (duplicates included).
    pub delivered: u64,
    /// Of those, re-sends the platform already had.
    pub duplicates: u64,
    /// Uploads refused for good.
    pub refused: u64,
    /// Uploads expired.
    pub expired: u64,
    /// Sends that did not settle their record.
    pub retries: u64,
    /// Successful logins.
    pub logins: u64,
    /// Failed logins.
    pub login_failures: u64,
    /// Downstream messages answered.
    pub answered: u64,
}

/// What one delivery pass did (see [`Engine::flush`](super::Engine::flush)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// Taken by the platform (duplicates included); removed.
    pub delivered: Vec<Record>,
    /// Refused for good, with the errmsg; removed.
    pub refused: Vec<(Record, String)>,
    /// Not settled; waiting for their next attempt.
    pub retrying: Vec<Record>,
    /// Past the expiry; removed.
    pub expired: Vec<Record>,
}

/// Reports `event` through `tracing`, in the span of the exchange it
/// belongs to (see [`crate::logging`]): never a key, a token or a payload.
pub(crate) fn log(event: &Event) {
    use tracing::{error, info, warn};
    match event {
        Event::LoggedIn { generation } => info!(generation, "logged in"),
        Event::LoginFailed { reason, retry_in } => warn!(
            reason = reason.as_str(),
            retry_in_ms = millis(*retry_in),
            "login failed"
        ),
        Event::TokenRefused { reason } => {
            info!(reason = reason.as_str(), "token refused; logging in again")
        }
        Event::Delivered { record, duplicate } => {
            if *duplicate {
                info!(
                    idempotency_key = record.idempotency_key.as_str(),
                    "delivered (the platform already had it)"
                )
            } else {
                info!(
                    idempotency_key = record.idempotency_key.as_str(),
                    "delivered"
                )
            }
        }
        Event::Refused { record, errmsg } => warn!(
            idempotency_key = record.idempotency_key.as_str(),
            errmsg = errmsg.as_str(),
            "refused by the platform"
        ),
        Event::Retrying { record, reason } => warn!(
            idempotency_key = record.idempotency_key.as_str(),
            attempt = record.attempts,
            backoff_ms = record
                .next_attempt_ms
                .saturating_sub(crate::clock::now_ms()),
            reason = reason.as_str(),
            "not settled; will retry"
        ),
        Event::Expired { record } => warn!(
            idempotency_key = record.idempotency_key.as_str(),
            attempts = record.attempts,
            "expired undelivered"
        ),
        Event::Damaged(damaged) => error!(
            id = ?damaged.id,
            reason = damaged.reason.as_str(),
            "damaged record set aside, never sent"
        ),
        Event::StoreFailed(e) => error!(error = %e, "store failed"),
        Event::LinkFailed(e) => warn!(error = %e, "link failed"),
        Event::Answered {
            downstream,
            delivered,
        } => match &downstream.refusal {
            None => info!(
                service_name = downstream.service_name.as_str(),
                delivered, "answered"
            ),
            Some(refusal) => info!(
                service_name = downstream.service_name.as_str(),
                delivered,
                errmsg = refusal.errmsg.as_str(),
                "answered with a refusal"
            ),
        },
        Event::Unanswered(why) => warn!(error = %why, "downstream message not answered"),
        Event::HandlerPanicked { service_name } => error!(
            service_name = service_name.as_str(),
            "handler panicked; answered as an internal error"
        ),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
