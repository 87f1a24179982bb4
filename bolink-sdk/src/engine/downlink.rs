//! The downstream loop (SDK dialect): receive the platform's messages and
//! answer each through the handler in its own task, so that a slow or
//! panicking handler never holds up receiving, uploads or other answers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bolink_sign::sdk_http;
use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use super::events::Event;
use super::pacing::Paced;
use super::session::{SessionCell, Token};
use super::stop::Stop;
use super::transport::{Frame, FrameKind, Transport, TransportError};
use super::verdict::{Status, Verdict};
use super::{Counters, Shared};
use crate::backoff::Backoff;
use crate::logging::{elapsed_ms, payload, short, SIGN_OK};
use crate::{downstream, Downstream, Handler, Refusal};
use tracing::field::Empty;
use tracing::Instrument;

/// The handler of an engine that answers nothing (every method refuses).
pub(crate) struct NoHandler;

impl Handler for NoHandler {}

pub(crate) async fn run<T: Transport, H: Handler + 'static>(
    shared: Arc<Shared<T>>,
    handler: Arc<H>,
    stop: Stop,
) {
    let Some(session) = shared.session.as_ref() else {
        return;
    };
    let mut link = Backoff::new(shared.config.link_backoff);
    let mut answers = JoinSet::new();
    let recent = Arc::new(Mutex::new(Recent::default()));
    loop {
        while answers.try_join_next().is_some() {}
        let token = match session.token(&shared).await {
            Ok(token) => token,
            Err(no) => {
                if stop.sleep_until(no.until.into()).await {
                    continue;
                }
                break;
            }
        };
        // Receiving is not paced: a long poll is one request per message
        // or per 30 s, and on TCP a receive sends nothing. Answers are.
        // Dropping a receive is safe: nothing was taken from the platform
        // until its answer arrived.
        let received = tokio::select! {
            received = shared.transport.receive(&token.value) => received,
            _ = stop.wait() => break,
        };
        let failure = match received {
            Ok(None) => None,
            Ok(Some(body)) => match platform_status(&body) {
                // Not a message: the platform's answer to the receive
                // itself ("error:token无效" from the public server code).
                Some(status) => match shared.config.answers.classify(&status) {
                    Verdict::TokenRefused(why) => {
                        invalidate(&shared, session, &token, &why);
                        None
                    }
                    other => Some(TransportError::Closed(format!(
                        "the platform answered the receive with {other:?}"
                    ))),
                },
                None => {
                    let span = downstream_span(session);
                    answers.spawn(
                        answer_one(
                            shared.clone(),
                            handler.clone(),
                            recent.clone(),
                            body,
                            token.clone(),
                        )
                        .instrument(span),
                    );
                    None
                }
            },
            Err(TransportError::TokenRefused(why)) | Err(TransportError::SessionLost(why)) => {
                invalidate(&shared, session, &token, &why);
                None
            }
            Err(e) => Some(e),
        };
        match failure {
            None => link.reset(),
            Some(e) => {
                shared.emit(&Event::LinkFailed(e));
                if !stop.sleep(link.fail()).await {
                    break;
                }
            }
        }
    }
    // Answers already being computed or written still go out.
    let _ = tokio::time::timeout(shared.config.shutdown_grace, async {
        while answers.join_next().await.is_some() {}
    })
    .await;
}

fn invalidate<T>(shared: &Shared<T>, session: &SessionCell, token: &Token, why: &str) {
    if session.invalidate(token.generation) {
        shared.emit(&Event::TokenRefused {
            reason: why.to_string(),
        });
    }
}

/// The status of a body that is the platform's answer rather than a
/// downstream message: a JSON object with `state` and no `sign`.
fn platform_status(body: &[u8]) -> Option<Status> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    (object.contains_key("state") && !object.contains_key("sign")).then(|| Status::of(&object))
}

/// The span of one downstream message (see [`crate::logging`]); the
/// service, ids and sign are recorded once the envelope is read.
fn downstream_span(session: &SessionCell) -> tracing::Span {
    tracing::info_span!(
        "downstream",
        direction = "down",
        service_name = Empty,
        park_id = session.park_id().as_str(),
        order_id = Empty,
        trade_no = Empty,
        sign = Empty,
        outcome = Empty,
        delivered = Empty,
        duration_ms = Empty,
    )
}

/// How many answered messages the downstream loop remembers.
const REMEMBERED: usize = 1024;

/// How long an answered message is remembered. The SDK's downstream
/// messages carry no nonce (unlike the new API's `rand`), so identical
/// signed data some time later can be a new message of its own (a prepay
/// price query of the same car without a query_order_no, a gate or visitor
/// sync back to an earlier state): only copies within this window are taken
/// for the same message. It covers a relay's double delivery and a resend
/// after the platform's own answer timeout and 30 s long-poll hold.
const REPEAT_WINDOW: Duration = Duration::from_secs(30);

/// The answer of one message, once computed (`None`: unanswerable).
type Cell = Arc<OnceCell<Option<Computed>>>;

/// The answers to the latest signed downstream messages, by what their sign
/// covers (service_name and the data bytes).
///
/// Why: the platform sends a message again when it did not get (or did not
/// read) the answer, or its relay delivers one twice; each copy is signed
/// alike. The handler must see each distinct message once (a second
/// nolicence_in_park would open a second entry), and the platform must get
/// the same answer to every copy. The cell is shared while the first copy
/// is being answered: a copy that arrives meanwhile waits for that answer
/// instead of calling the handler.
#[derive(Default)]
struct Recent {
    cells: HashMap<Vec<u8>, (Instant, Cell)>,
    order: VecDeque<(Instant, Vec<u8>)>,
}

impl Recent {
    /// The cell of the message `identity` received at `now`: the one of an
    /// earlier copy within [`REPEAT_WINDOW`], else a new one.
    fn cell(&mut self, identity: Vec<u8>, now: Instant) -> Cell {
        // Forget what is too old or too many (oldest first).
        while let Some((at, _)) = self.order.front() {
            let stale = now.saturating_duration_since(*at) > REPEAT_WINDOW;
            if !stale && self.order.len() < REMEMBERED {
                break;
            }
            if let Some((at, oldest)) = self.order.pop_front() {
                if self
                    .cells
                    .get(&oldest)
                    .is_some_and(|(first, _)| *first == at)
                {
                    self.cells.remove(&oldest);
                }
            }
        }
        if let Some((_, cell)) = self.cells.get(&identity) {
            return cell.clone();
        }
        let cell = Arc::new(OnceCell::new());
        self.cells.insert(identity.clone(), (now, cell.clone()));
        self.order.push_back((now, identity));
        cell
    }
}

/// What a signed message is, for [`Recent`]: its service_name and data
/// bytes, once its sign verified (an unverified copy must never stand for a
/// genuine message); `None` otherwise.
fn identity(body: &[u8], key: &bolink_sign::Key) -> Option<Vec<u8>> {
    let envelope = sdk_http::Envelope::parse(body).ok()?;
    envelope.verify(key).ok()?;
    let mut identity = envelope.service_name.as_bytes().to_vec();
    identity.push(0);
    identity.extend_from_slice(envelope.data_bytes());
    Some(identity)
}

/// A message's answer, and whether its handler panicked.
#[derive(Clone)]
struct Computed {
    done: Downstream,
    panicked: bool,
}

/// Answers one message through the handler and sends the answer (in the
/// message's span). A copy of a message answered lately is answered as
/// before, without the handler.
async fn answer_one<T: Transport, H: Handler + 'static>(
    shared: Arc<Shared<T>>,
    handler: Arc<H>,
    recent: Arc<Mutex<Recent>>,
    body: Vec<u8>,
    token: Token,
) {
    let Some(session) = shared.session.as_ref() else {
        return;
    };
    let span = tracing::Span::current();
    let started = Instant::now();
    let key = session.key();
    let cell = identity(&body, &key).map(|identity| {
        recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .cell(identity, Instant::now())
    });
    let mut computed_here = false;
    let computed = match &cell {
        Some(cell) => cell
            .get_or_init(|| {
                computed_here = true;
                compute(&shared, handler, &body, &token)
            })
            .await
            .clone(),
        None => {
            computed_here = true;
            compute(&shared, handler, &body, &token).await
        }
    };
    let Some(Computed { mut done, panicked }) = computed else {
        span.record("duration_ms", elapsed_ms(started));
        return;
    };
    if !computed_here {
        // Its sign verified (see `identity`); the same answer data goes
        // out, sealed with the session's current token.
        span.record("service_name", short(&done.service_name));
        span.record("sign", SIGN_OK);
        tracing::debug!("a copy of a message answered before; answering it the same");
        if let Ok(envelope) = downstream::seal(&done.service_name, &done.answer, &key, &token.value)
        {
            done.envelope = envelope;
        }
    }
    let delivered = send_answer(&shared, session, &done, token).await;
    Counters::bump(&shared.stats.answered);
    let outcome = if !computed_here {
        "repeated"
    } else if panicked {
        "panicked"
    } else if done.invalid_request.is_some() || done.invalid_answer.is_some() {
        "invalid"
    } else if done.refusal.is_some() {
        "refused"
    } else {
        "answered"
    };
    span.record("outcome", outcome);
    span.record("delivered", delivered);
    span.record("duration_ms", elapsed_ms(started));
    tracing::trace!(answer = %payload(&done.answer), "answer");
    shared.emit(&Event::Answered {
        downstream: Box::new(done),
        delivered,
    });
}

/// The answer to one message, through the handler; `None` (reported) when
/// the message cannot be answered.
async fn compute<T: Transport, H: Handler + 'static>(
    shared: &Shared<T>,
    handler: Arc<H>,
    body: &[u8],
    token: &Token,
) -> Option<Computed> {
    let session = shared.session.as_ref()?;
    let span = tracing::Span::current();
    let key = session.key();
    let mode = shared.transport.link_mode();
    // The handler runs in a task of its own so that a panic in it is a
    // JoinError here, answered as an internal error, not a lost loop.
    let computed = tokio::spawn(
        {
            let (body, key, value) = (body.to_vec(), key.clone(), token.value.clone());
            async move { downstream::answer(&*handler, &body, &key, &value, mode).await }
        }
        .instrument(span.clone()),
    )
    .await;
    let mut panicked = false;
    let done = match computed {
        Ok(Ok(done)) => done,
        Ok(Err(unanswerable)) => {
            span.record("outcome", "rejected");
            shared.emit(&Event::Unanswered(unanswerable));
            return None;
        }
        Err(_panicked) => {
            panicked = true;
            span.record("outcome", "panicked");
            shared.emit(&Event::HandlerPanicked {
                service_name: downstream::service_name_of(body).unwrap_or_default(),
            });
            match downstream::refuse(
                body,
                &key,
                &token.value,
                Refusal::new("internal error"),
                mode,
            ) {
                Ok(done) => done,
                Err(unanswerable) => {
                    shared.emit(&Event::Unanswered(unanswerable));
                    return None;
                }
            }
        }
    };
    Some(Computed { done, panicked })
}

/// Sends an answer; after a token refusal, or a lost session (a TCP link
/// re-established since the message arrived, so the answer did not reach
/// the platform on the session it was signed for), logs in and sends it
/// once more, signed with the new token.
async fn send_answer<T: Transport>(
    shared: &Shared<T>,
    session: &SessionCell,
    done: &Downstream,
    mut token: Token,
) -> bool {
    let mut envelope = done.envelope.clone();
    for attempt in 0..2 {
        // Paced, but not cut short by a shutdown: the answer is due.
        tokio::time::sleep_until(shared.pacer.reserve(Paced::Other, Instant::now()).into()).await;
        let frame = Frame {
            kind: FrameKind::Answer,
            service_name: done.service_name.clone(),
            path: None,
            body: envelope.clone(),
        };
        let limit = shared.config.exchange_timeout;
        let sent = tokio::time::timeout(limit, shared.transport.answer(frame))
            .await
            .unwrap_or(Err(TransportError::Timeout(limit)));
        let refused_token = match sent {
            Ok(None) => return true,
            Ok(Some(ack)) => match shared.dialect.read_answer(&done.service_name, &ack) {
                Ok(status) => match shared.config.answers.classify(&status) {
                    Verdict::Accepted | Verdict::Duplicate(_) => return true,
                    Verdict::TokenRefused(why) => why,
                    _ => return false,
                },
                Err(_) => return false,
            },
            Err(TransportError::TokenRefused(why)) | Err(TransportError::SessionLost(why)) => why,
            Err(e) => {
                shared.emit(&Event::LinkFailed(e));
                return false;
            }
        };
        if attempt == 1 {
            break;
        }
        invalidate(shared, session, &token, &refused_token);
        token = match session.token(shared).await {
            Ok(token) => token,
            Err(_) => return false,
        };
        envelope = match downstream::seal(
            &done.service_name,
            &done.answer,
            &session.key(),
            &token.value,
        ) {
            Ok(envelope) => envelope,
            Err(_) => return false,
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_within_the_window_share_a_cell_and_later_ones_do_not() {
        let mut recent = Recent::default();
        let t0 = Instant::now();
        let first = recent.cell(b"query_price\0{}".to_vec(), t0);
        let copy = recent.cell(b"query_price\0{}".to_vec(), t0 + Duration::from_secs(10));
        assert!(Arc::ptr_eq(&first, &copy), "a copy within the window");
        let other = recent.cell(
            b"query_price\0{\"a\":1}".to_vec(),
            t0 + Duration::from_secs(10),
        );
        assert!(!Arc::ptr_eq(&first, &other), "another message");
        let later = recent.cell(
            b"query_price\0{}".to_vec(),
            t0 + REPEAT_WINDOW + Duration::from_secs(1),
        );
        assert!(
            !Arc::ptr_eq(&first, &later),
            "a new message after the window"
        );
        // The entry that replaced the stale one is kept when the stale
        // one's queue slot is dropped.
        let again = recent.cell(
            b"query_price\0{}".to_vec(),
            t0 + REPEAT_WINDOW + Duration::from_secs(2),
        );
        assert!(Arc::ptr_eq(&later, &again));
    }

    #[test]
    fn the_memory_is_bounded_in_entries() {
        let mut recent = Recent::default();
        let now = Instant::now();
        let first = recent.cell(b"0".to_vec(), now);
        for i in 1..=REMEMBERED {
            recent.cell(i.to_string().into_bytes(), now);
        }
        assert!(recent.cells.len() <= REMEMBERED);
        assert!(recent.order.len() <= REMEMBERED);
        assert!(!Arc::ptr_eq(&first, &recent.cell(b"0".to_vec(), now)));
    }
}
