//! Delivery passes: claim the due records one at a time, send each, settle
//! or release it by what the platform answered.
//!
//! Every iteration either settles its record (it leaves the store) or ends
//! the pass, so a pass never spins: a failure of the link, a temporary
//! refusal, an unreadable answer or a missing session stop it, and the loop
//! backs off before the next.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::events::{Event, FlushReport, Outcome};
use super::pacing::Paced;
use super::session::Token;
use super::stop::Stop;
use super::transport::{Frame, Transport, TransportError};
use super::verdict::Verdict;
use super::{Counters, Shared};
use crate::backoff::Backoff;
use crate::clock::now_ms;
use crate::logging::{elapsed_ms, payload};
use crate::outbox::{Claim, Record, Release};
use tracing::field::Empty;
use tracing::Instrument;

/// How often an idle loop looks at the store anyway (expiry, records
/// another process of a shared store released).
const IDLE_TICK: Duration = Duration::from_secs(30);

/// Why a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassEnd {
    /// Nothing is due any more.
    Drained,
    /// The link, the store or the platform failed: back off.
    Failed,
    /// No session before this time (logins are backing off).
    NoSessionUntil(Instant),
    /// The engine is stopping.
    Stopped,
}

/// The run loop: passes, and waits between them.
pub(crate) async fn run<T: Transport>(shared: Arc<Shared<T>>, stop: Stop) {
    let mut link = Backoff::new(shared.config.link_backoff);
    loop {
        let mut report = FlushReport::default();
        let end = pass(&shared, &stop, &mut report).await;
        let now = Instant::now();
        let (wake_at, uploads_wake) = match end {
            PassEnd::Stopped => return,
            PassEnd::Drained => {
                link.reset();
                let next = match shared.store.next_due_ms().await {
                    Ok(Some(due)) => {
                        now + Duration::from_millis(due.saturating_sub(now_ms())).min(IDLE_TICK)
                    }
                    Ok(None) => now + IDLE_TICK,
                    Err(e) => {
                        shared.emit(&Event::StoreFailed(e));
                        now + link.fail()
                    }
                };
                (next, true)
            }
            // After a failure, a new upload must not bring the next attempt
            // forward: it would meet the same failure.
            PassEnd::Failed => (now + link.fail(), false),
            PassEnd::NoSessionUntil(until) => (until, false),
        };
        let woken = async {
            if uploads_wake {
                shared.wake.notified().await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake_at.into()) => {}
            _ = woken => {}
            _ = stop.wait() => return,
        }
    }
}

/// One pass over what is due; what it settled goes into `report`.
pub(crate) async fn pass<T: Transport>(
    shared: &Shared<T>,
    stop: &Stop,
    report: &mut FlushReport,
) -> PassEnd {
    let _one_pass_at_a_time = shared.pass.lock().await;
    if let Some(end) = sweep(shared, report).await {
        return end;
    }
    loop {
        if stop.is_set() {
            return PassEnd::Stopped;
        }
        let claimed = shared
            .store
            .claim(Claim {
                now_ms: now_ms(),
                limit: 1,
                lease: shared.config.lease,
                owner: shared.owner.clone(),
            })
            .await;
        let record = match claimed {
            Ok(mut records) => match records.pop() {
                Some(record) => record,
                None => return PassEnd::Drained,
            },
            Err(e) => {
                shared.emit(&Event::StoreFailed(e));
                return PassEnd::Failed;
            }
        };
        match deliver(shared, stop, record, report).await {
            Step::Settled => continue,
            Step::End(end) => return end,
        }
    }
}

/// Hands out expired and damaged records before sending.
async fn sweep<T>(shared: &Shared<T>, report: &mut FlushReport) -> Option<PassEnd> {
    let expiry = shared.config.retry.expiry.as_millis() as u64;
    match shared
        .store
        .take_expired(now_ms().saturating_sub(expiry))
        .await
    {
        Ok(expired) => {
            for record in expired {
                Counters::bump(&shared.stats.expired);
                shared.emit(&Event::Expired {
                    record: record.clone(),
                });
                shared.settle(
                    record.id,
                    Outcome::Expired {
                        record: record.clone(),
                    },
                );
                report.expired.push(record);
            }
        }
        Err(e) => {
            shared.emit(&Event::StoreFailed(e));
            return Some(PassEnd::Failed);
        }
    }
    match shared.store.take_damaged().await {
        Ok(damaged) => {
            for record in damaged {
                shared.emit(&Event::Damaged(record));
            }
        }
        Err(e) => {
            shared.emit(&Event::StoreFailed(e));
            return Some(PassEnd::Failed);
        }
    }
    None
}

enum Step {
    Settled,
    End(PassEnd),
}

/// Sends one claimed record (logging in first, and once more when the
/// token is refused) and settles or releases it.
async fn deliver<T: Transport>(
    shared: &Shared<T>,
    stop: &Stop,
    record: Record,
    report: &mut FlushReport,
) -> Step {
    let mut tries = Tries {
        relogged: false,
        // Whether this record reached the platform before (an earlier
        // attempt, or an earlier send in this call): only then can a
        // resend-cache "duplicate" speak of a send the platform refused.
        sent_before: record.attempts > 0,
        confirmations: 0,
    };
    loop {
        let token = match &shared.session {
            Some(session) => match session.token(shared).await {
                Ok(token) => Some(token),
                Err(no) => {
                    let until_ms = now_ms()
                        + no.until
                            .saturating_duration_since(Instant::now())
                            .as_millis() as u64;
                    release(shared, &record, until_ms, &no.reason, false, report).await;
                    return Step::End(PassEnd::NoSessionUntil(no.until));
                }
            },
            None => None,
        };
        if !shared.pacer.wait(Paced::Upload, stop).await {
            release(shared, &record, now_ms(), "engine stopping", false, report).await;
            return Step::End(PassEnd::Stopped);
        }
        // Once called a duplicate by the resend cache, a record goes out
        // under a fresh key rotation every time: a sign it was sent under
        // may be in the cache already.
        let variant = shared.variants().get(&record.id).copied().unwrap_or(0);
        if variant > 0 {
            shared.variants().insert(record.id, variant + 1);
        }
        let frame = match shared.dialect.upload_frame(
            &record,
            token.as_ref().map(|t| t.value.as_str()),
            variant,
        ) {
            Ok(frame) => frame,
            Err(why) => {
                // Unsendable in any form; the store's checksums make this
                // a bug, reported rather than retried for ever.
                settle(shared, &record, Verdict::Refused(why), report).await;
                return Step::Settled;
            }
        };
        let span = upload_span(shared, &record);
        match send_once(shared, &record, frame, token.as_ref(), &mut tries, report)
            .instrument(span)
            .await
        {
            Sent::Again => continue,
            Sent::Done(step) => return step,
        }
    }
}

/// What one record's sends so far did.
struct Tries {
    relogged: bool,
    sent_before: bool,
    confirmations: u32,
}

/// What one send leads to.
enum Sent {
    /// Send the record once more (a re-login, a confirmation).
    Again,
    /// The record is settled or released.
    Done(Step),
}

/// The span of one send of `record` (see [`crate::logging`]).
fn upload_span<T>(shared: &Shared<T>, record: &Record) -> tracing::Span {
    let span = tracing::info_span!(
        "upload",
        direction = "up",
        service_name = record.service_name.as_str(),
        park_id = Empty,
        order_id = Empty,
        trade_no = Empty,
        attempt = record.attempts.saturating_add(1),
        sign = Empty,
        outcome = Empty,
        duration_ms = Empty,
    );
    if !span.is_disabled() {
        shared.dialect.ids_of(record).record(&span);
    }
    span
}

fn outcome(label: &'static str) {
    tracing::Span::current().record("outcome", label);
}

/// Sends `frame` and acts on the answer (in the send's span).
async fn send_once<T: Transport>(
    shared: &Shared<T>,
    record: &Record,
    frame: Frame,
    token: Option<&Token>,
    tries: &mut Tries,
    report: &mut FlushReport,
) -> Sent {
    tracing::trace!(data = %payload(&record.data), "sending");
    let started = Instant::now();
    let exchanged = shared.exchange(frame).await;
    tracing::Span::current().record("duration_ms", elapsed_ms(started));
    let resent = std::mem::replace(&mut tries.sent_before, true);
    let verdict = match exchanged {
        Ok(answer) => match shared.dialect.read_answer(&record.service_name, &answer) {
            // An answer about another upload is no answer to this one: the
            // record stays (see `Status::names_another_order`).
            Ok(status) => match status.names_another_order(record.order_key.as_deref()) {
                Some(why) => Verdict::Unreadable(why),
                None => shared.config.answers.classify(&status),
            },
            Err(why) => Verdict::Unreadable(why),
        },
        // Both mean: log in (on the new link) and send once more.
        Err(TransportError::TokenRefused(why)) | Err(TransportError::SessionLost(why)) => {
            Verdict::TokenRefused(why)
        }
        Err(e) => {
            let why = e.to_string();
            shared.emit(&Event::LinkFailed(e));
            Verdict::Unreadable(why)
        }
    };
    match verdict {
        Verdict::TokenRefused(why) => {
            if let (Some(token), false) = (token, tries.relogged) {
                outcome("relogin");
                invalidate(shared, token, &why);
                tries.relogged = true;
                return Sent::Again;
            }
            // Refused again right after a fresh login: not a token
            // problem this record can solve by itself.
            outcome("retry");
            Sent::Done(fail(shared, record, &why, report).await)
        }
        Verdict::Transient {
            errmsg,
            rate_limited,
        } => {
            if rate_limited {
                shared.pacer.pause(Instant::now());
            }
            outcome("retry");
            Sent::Done(fail(shared, record, &errmsg, report).await)
        }
        Verdict::Unreadable(why) => {
            outcome("retry");
            Sent::Done(fail(shared, record, &why, report).await)
        }
        Verdict::Duplicate(errmsg)
            if resent
                && tries.confirmations < 2
                && shared.config.answers.is_resend_cache(&errmsg)
                && shared.dialect.can_vary(record) =>
        {
            // Possibly the resend cache answering for a send it refused
            // (see `dialect::rotated`): confirm under a fresh sign, the
            // second time on a fresh token (the cloud also counts sends
            // per token and order). A true duplicate is then recognised
            // by the platform's books ("该订单已经存在"), a false one taken.
            outcome("confirm");
            tries.confirmations += 1;
            tracing::debug!(
                confirmation = tries.confirmations,
                errmsg = errmsg.as_str(),
                "a resent record called a duplicate; confirming under another sign"
            );
            shared.variants().entry(record.id).or_insert(1);
            if tries.confirmations == 2 {
                if let Some(token) = token {
                    invalidate(shared, token, &errmsg);
                }
            }
            Sent::Again
        }
        Verdict::Refused(errmsg) if shared.variants().contains_key(&record.id) => {
            // The platform said it had the record, then refused it under
            // another sign (a server that verifies in its own field
            // order): its first word stands.
            outcome("duplicate");
            settle(shared, record, Verdict::Duplicate(errmsg), report).await;
            Sent::Done(Step::Settled)
        }
        settling => {
            outcome(match settling {
                Verdict::Accepted => "delivered",
                Verdict::Duplicate(_) => "duplicate",
                _ => "refused",
            });
            settle(shared, record, settling, report).await;
            Sent::Done(Step::Settled)
        }
    }
}

/// A failed attempt: the record waits for its backoff, and the pass stops
/// (the next record would meet the same).
async fn fail<T>(shared: &Shared<T>, record: &Record, why: &str, report: &mut FlushReport) -> Step {
    release(shared, record, retry_at(shared, record), why, true, report).await;
    Step::End(PassEnd::Failed)
}

fn invalidate<T>(shared: &Shared<T>, token: &Token, why: &str) {
    if let Some(session) = &shared.session {
        if session.invalidate(token.generation) {
            shared.emit(&Event::TokenRefused {
                reason: why.to_string(),
            });
        }
    }
}

/// When a record that just failed is due again.
fn retry_at<T>(shared: &Shared<T>, record: &Record) -> u64 {
    let wait = shared
        .config
        .retry
        .backoff(record.id, record.attempts.saturating_add(1));
    now_ms().saturating_add(wait.as_millis() as u64)
}

/// Removes a settled record and reports it everywhere.
async fn settle<T>(
    shared: &Shared<T>,
    record: &Record,
    verdict: Verdict,
    report: &mut FlushReport,
) {
    // A failed removal hides the record from later claims anyway (the
    // store's contract); the platform has it, so it is reported settled.
    let record = match shared.store.acknowledge(record.id, &shared.owner).await {
        Ok(record) => record,
        Err(e) => {
            shared.emit(&Event::StoreFailed(e));
            record.clone()
        }
    };
    let (event, outcome) = match verdict {
        Verdict::Refused(errmsg) => {
            Counters::bump(&shared.stats.refused);
            report.refused.push((record.clone(), errmsg.clone()));
            (
                Event::Refused {
                    record: record.clone(),
                    errmsg: errmsg.clone(),
                },
                Outcome::Refused {
                    record: record.clone(),
                    errmsg,
                },
            )
        }
        other => {
            let duplicate = matches!(other, Verdict::Duplicate(_));
            Counters::bump(&shared.stats.delivered);
            if duplicate {
                Counters::bump(&shared.stats.duplicates);
            }
            report.delivered.push(record.clone());
            (
                Event::Delivered {
                    record: record.clone(),
                    duplicate,
                },
                Outcome::Delivered {
                    record: record.clone(),
                    duplicate,
                },
            )
        }
    };
    shared.emit(&event);
    shared.settle(record.id, outcome);
}

/// Hands an unsettled record back to the store, due at `next_attempt_ms`.
async fn release<T>(
    shared: &Shared<T>,
    record: &Record,
    next_attempt_ms: u64,
    why: &str,
    count_attempt: bool,
    report: &mut FlushReport,
) {
    if count_attempt {
        Counters::bump(&shared.stats.retries);
    }
    let released = shared
        .store
        .release(Release {
            id: record.id,
            owner: shared.owner.clone(),
            next_attempt_ms,
            error: why.to_string(),
            count_attempt,
        })
        .await;
    match released {
        Ok(record) => {
            if count_attempt {
                shared.emit(&Event::Retrying {
                    record: record.clone(),
                    reason: why.to_string(),
                });
            }
            report.retrying.push(record);
        }
        // The record stays leased until its lease ends: not re-sent sooner.
        Err(e) => shared.emit(&Event::StoreFailed(e)),
    }
}
