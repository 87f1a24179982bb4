//! Playing Bolink calling a lot: route a signed downstream message to an
//! instance, send it down that instance's link (its long-poll queue, or
//! its TCP connection), wait for the answer and judge it.
//!
//! Unlike the platform, which drops a message for an instance that is not
//! online, a push waits (up to its timeout) for an instance to route to,
//! so that a driver need not race the lot's login; it then says why
//! nothing was delivered.

use std::time::Duration;

use bolink_sign::sdk_http;
use bolink_types::{sdk, Role};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::observe::{Direction, Exchange, Link};
use super::state::{Outbound, Queued, Route, State};
use super::verdict::{judge, Verdict};

/// What became of a downstream message pushed to a lot
/// ([`SimulatorHandle::push`](super::SimulatorHandle::push), `POST /_simulator/push`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct PushReport {
    /// Whether the message reached the lot (a long poll took it, or it was
    /// written to the TCP connection).
    pub delivered: bool,
    /// What the answer amounts to.
    pub verdict: Verdict,
    /// The lot's answer (the data of its answer envelope), when it answered
    /// with JSON.
    pub answer: Option<serde_json::Value>,
    /// Every violation of the answer against the return table, as
    /// `path: problem`.
    pub violations: Vec<String>,
    /// Why nothing was delivered, or nothing answered.
    pub reason: Option<String>,
    /// The link of the instance it was routed to.
    pub link: Option<Link>,
    /// The `local_id` of the instance it was routed to.
    pub local_id: Option<String>,
    /// The table the answer was judged against (`http-return`,
    /// `sdk-return`), when the service has one and an answer came.
    pub table: Option<String>,
    /// The answer decoded as its table, when the verdict is `answered`.
    #[serde(skip)]
    pub message: Option<sdk::Message>,
    /// Whether it was not delivered because the instance's queue was full.
    #[serde(skip)]
    pub(crate) queue_full: bool,
    /// Why the answer is invalid, as a decoding error.
    #[serde(skip)]
    pub(crate) error: Option<bolink_types::DecodeError>,
}

impl PushReport {
    fn undelivered(reason: String, link: Option<Link>, local_id: Option<String>) -> PushReport {
        PushReport {
            delivered: false,
            verdict: Verdict::NoAnswer,
            answer: None,
            violations: Vec::new(),
            reason: Some(reason),
            link,
            local_id,
            table: None,
            message: None,
            queue_full: false,
            error: None,
        }
    }

    /// One line for an observer: the verdict and what it rests on.
    fn outcome(&self) -> String {
        let detail = match self.verdict {
            Verdict::Answered => String::new(),
            Verdict::Refused => self
                .answer
                .as_ref()
                .and_then(|a| a.get("errmsg"))
                .and_then(|e| e.as_str())
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
            Verdict::Invalid => format!(": {}", self.violations.join("; ")),
            Verdict::NoAnswer => self
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
        };
        format!("{}{detail}", self.verdict.as_str())
    }
}

/// One downstream message to push: already signed, with what routing needs.
pub(crate) struct Push<'a> {
    pub park_id: &'a str,
    pub service_name: &'a str,
    /// The signed envelope.
    pub body: Vec<u8>,
    /// The lanes its data names.
    pub lanes: Vec<String>,
    pub timeout: Duration,
}

/// Routes, sends and waits (see the module docs); the report says what
/// happened. The park must exist (the caller checked).
pub(crate) async fn push(state: &State, push: Push<'_>) -> PushReport {
    let report = run(state, &push).await;
    state.emit(Exchange::new(
        Direction::Down,
        report.link.unwrap_or(Link::Http),
        Some(push.park_id),
        report.local_id.as_deref(),
        push.service_name,
        report.outcome(),
    ));
    report
}

async fn run(state: &State, push: &Push<'_>) -> PushReport {
    let deadline = Instant::now() + push.timeout;
    let ttl = state.config.token_ttl;
    let routed = loop {
        // Armed before the check, so that a login between the check and the
        // wait still wakes it.
        let logged_in = state.logged_in.notified();
        tokio::pin!(logged_in);
        logged_in.as_mut().enable();
        let why = match state.books().route(push.park_id, &push.lanes, ttl) {
            Ok(routed) => break routed,
            Err(why) => why,
        };
        if Instant::now() >= deadline {
            return PushReport::undelivered(
                format!("{why} (waited {} ms)", push.timeout.as_millis()),
                None,
                None,
            );
        }
        tokio::select! {
            _ = &mut logged_in => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    };
    let instance = (push.park_id.to_string(), routed.local_id.clone());
    let request = sdk_http::Envelope::parse(&push.body)
        .map(|envelope| envelope.data_bytes().to_vec())
        .unwrap_or_default();
    let answer = state
        .books()
        .await_answer(instance.clone(), push.service_name, &request);
    let link = match routed.route {
        Route::Http(_) => Link::Http,
        Route::Tcp(_) => Link::Tcp,
    };
    let local_id = Some(routed.local_id.clone());
    let forget = || {
        state
            .books()
            .forget_waiter(instance.clone(), push.service_name)
    };
    let (sent_tx, sent_rx) = oneshot::channel();
    let handed = match &routed.route {
        Route::Http(mailbox) => mailbox
            .tx
            .try_send(Queued {
                body: push.body.clone(),
                taken: sent_tx,
            })
            .map_err(|_| {
                format!(
                    "the downstream queue of {}/{} is full: {} messages wait (the lot does not poll)",
                    instance.0, instance.1, state.config.history_limit
                )
            }),
        // A raw CR or LF would end the frame early: the lot would read
        // half a message (only a raw body from `call_raw` can hold one).
        Route::Tcp(_) if push.body.iter().any(|&b| b == b'\r' || b == b'\n') => {
            Err("the body holds a raw CR or LF, which would end its TCP frame early".to_string())
        }
        Route::Tcp(outbound) => outbound
            .try_send(Outbound {
                bytes: super::tcp::frame(&push.body),
                written: Some(sent_tx),
            })
            .map_err(|_| {
                format!(
                    "the TCP connection of {}/{} takes no more frames (closed, or not reading)",
                    instance.0, instance.1
                )
            }),
    };
    if let Err(why) = handed {
        forget();
        let mut report = PushReport::undelivered(why, Some(link), local_id);
        // A mailbox's only refusal is a full queue (its receiver lives with it).
        report.queue_full = matches!(routed.route, Route::Http(_));
        return report;
    }
    // Dropping `sent_rx` on a timeout tells the long poll to drop the
    // message unsent: nobody waits for its answer any more.
    match tokio::time::timeout_at(deadline, sent_rx).await {
        Ok(Ok(())) => {}
        _ => {
            forget();
            let why = match link {
                Link::Tcp => "the TCP connection closed before the message was written".to_string(),
                _ => format!(
                    "the lot did not take it from its long poll within {} ms",
                    push.timeout.as_millis()
                ),
            };
            return PushReport::undelivered(why, Some(link), local_id);
        }
    }
    let data = match tokio::time::timeout_at(deadline, answer).await {
        Ok(Ok(data)) => data,
        _ => {
            forget();
            let mut report = PushReport::undelivered(
                format!("no answer within {} ms", push.timeout.as_millis()),
                Some(link),
                local_id,
            );
            report.delivered = true;
            return report;
        }
    };
    let request = serde_json::from_slice(&request).unwrap_or(serde_json::Value::Null);
    let judged = judge(push.service_name, link, &data, &request);
    PushReport {
        delivered: true,
        verdict: judged.verdict,
        answer: judged.json,
        violations: judged.violations,
        reason: None,
        link: Some(link),
        local_id,
        table: judged.role.map(|r: Role| r.as_str().to_string()),
        message: judged.message,
        queue_full: false,
        error: judged.error,
    }
}
