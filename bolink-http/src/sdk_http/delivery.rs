//! Uploads through the outbox: written before they are sent, removed only
//! once the platform answered them.

use std::time::Instant;

use bolink_sdk::outbox::Record;
use bolink_types::Message;

use super::client::{ClientError, SdkHttpClient};
use super::UPLOAD_PATH;
use crate::clock::now_ms;

/// What became of an upload right after [`SdkHttpClient::upload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The platform took it (`state` 1).
    Acknowledged(Record),
    /// The platform answered `state` 0; the record left the outbox and is
    /// handed back with the platform's `errmsg` (re-sending the same bytes
    /// would be refused again).
    Rejected(Record, String),
    /// Stored, not yet acknowledged (the platform is unreachable, or an
    /// older upload of the same order is still pending); the outbox keeps
    /// retrying it.
    Queued(Record),
}

/// What one pass over the outbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushReport {
    /// Acknowledged and removed.
    pub delivered: Vec<Record>,
    /// Refused by the platform and removed, with its `errmsg`.
    pub rejected: Vec<(Record, String)>,
    /// Failed to send; waiting for their next attempt.
    pub retrying: Vec<Record>,
    /// Past the outbox's expiry: removed, never sent successfully.
    pub expired: Vec<Record>,
}

impl SdkHttpClient {
    /// Validates and stores an upload in the outbox, then sends what is due.
    ///
    /// Once this returns `Ok`, the upload survives a crash (with a durable
    /// outbox); it is retried until the platform answers it.
    pub async fn upload<M: Message>(&self, message: &M) -> Result<Delivery, ClientError> {
        let record = self.outbox.lock().await.enqueue(message, now_ms())?;
        self.awaited().insert(record.id, None);
        self.flush().await;
        // This flush, or the run loop's, may have sent it.
        let outcome = self.awaited().remove(&record.id).flatten();
        Ok(outcome.unwrap_or(Delivery::Queued(record)))
    }

    fn awaited(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, Option<Delivery>>> {
        self.awaited
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Leaves the outcome for an `upload` call waiting for this record.
    fn settle(&self, outcome: Delivery) {
        let id = match &outcome {
            Delivery::Acknowledged(r) | Delivery::Rejected(r, _) | Delivery::Queued(r) => r.id,
        };
        if let Some(slot) = self.awaited().get_mut(&id) {
            *slot = Some(outcome);
        }
    }

    /// Sends every due record once, oldest first, and reports expired ones.
    pub async fn flush(&self) -> FlushReport {
        let _one_at_a_time = self.flushing.lock().await;
        let mut report = FlushReport::default();
        let due = self.outbox.lock().await.due(now_ms());
        for record in due {
            let sent = self
                .with_token(
                    UPLOAD_PATH,
                    |session| {
                        session.upload_encoded(&record.service_name, &record.data, Instant::now())
                    },
                    self.config.request_timeout,
                )
                .await;
            let mut outbox = self.outbox.lock().await;
            // The outbox methods only fail on storage errors; the record then
            // stays pending and is tried again on the next pass.
            match sent.and_then(|reply| Self::read_ack(&reply)) {
                Ok(Ok(())) => {
                    if let Ok(done) = outbox.acknowledge(record.id) {
                        self.settle(Delivery::Acknowledged(done.clone()));
                        report.delivered.push(done);
                    }
                }
                Ok(Err(errmsg)) => {
                    if let Ok(done) = outbox.acknowledge(record.id) {
                        self.settle(Delivery::Rejected(done.clone(), errmsg.clone()));
                        report.rejected.push((done, errmsg));
                    }
                }
                Err(e) => {
                    if let Ok(waiting) = outbox.retry_later(record.id, &e.to_string(), now_ms()) {
                        report.retrying.push(waiting);
                    }
                }
            }
        }
        if let Ok(expired) = self.outbox.lock().await.take_expired(now_ms()) {
            report.expired = expired;
        }
        report
    }

    /// How many uploads wait in the outbox.
    pub async fn pending_uploads(&self) -> usize {
        self.outbox.lock().await.len()
    }

    /// Milliseconds until the next record is due (0 when one is due now).
    pub(crate) async fn next_due_in_ms(&self) -> Option<u64> {
        let next = self.outbox.lock().await.next_due_ms()?;
        Some(next.saturating_sub(now_ms()))
    }
}
