//! A running simulator: its addresses, the drivers (push, call, callbacks
//! to vendors) and what it remembers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bolink_sign::newapi::BodyEncoding;
use bolink_sign::sdk_http;
use bolink_types::newapi as api;
use bolink_types::{sdk, DecodeError};
use tokio::sync::{oneshot, watch};

use super::push::{self, PushReport};
use super::state::{self, Park};
#[cfg(doc)]
use super::SimulatorConfig;
use super::{routing, InParkOrder, LiveSession, Received, Rejection, Verdict};

/// What a lot answered to a downstream message.
#[derive(Debug, Clone, PartialEq)]
pub enum LotAnswer {
    /// A valid answer (`state` 1), decoded as the service's return table.
    Answered(Box<sdk::Message>),
    /// `state` 0 with its `errmsg`.
    Refused(String),
}

/// What a vendor's callback server answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VendorAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The answer's `state`, when it has one.
    pub state: Option<i64>,
    /// The answer's `errmsg`, when it has one.
    pub errmsg: Option<String>,
    /// The answer as the interface's response table, when `state` is 1 and the page has one.
    pub response: Option<api::Response>,
    /// The raw answer.
    pub body: Vec<u8>,
}

/// Why a driver's call got no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// No such park is registered.
    #[error("unknown park {0}")]
    UnknownPark(String),
    /// The lot did not answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The answer breaks the spec.
    #[error("invalid answer: {0}")]
    InvalidAnswer(DecodeError),
    /// The instance's queue of downstream messages is full (the lot does
    /// not poll): [`SimulatorConfig::history_limit`] messages wait already.
    #[error("the downstream queue of park {0} is full")]
    QueueFull(String),
    /// The message reached no instance: none was live to route it to
    /// within the timeout, or its link closed; the reason says which.
    #[error("not delivered: {0}")]
    NotDelivered(String),
}

/// A running simulator.
#[derive(Debug)]
pub struct SimulatorHandle {
    pub(super) addr: SocketAddr,
    pub(super) tcp_addr: Option<SocketAddr>,
    pub(super) shared: state::State,
    pub(super) stop: Option<oneshot::Sender<()>>,
    pub(super) server: Option<tokio::task::JoinHandle<()>>,
    pub(super) tcp_stop: watch::Sender<bool>,
    pub(super) tcp_server: Option<tokio::task::JoinHandle<()>>,
}

impl SimulatorHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the TCP link, when it listens for one.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The base URL to give clients (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Plays Bolink calling the lot: signs `request` with the park's key,
    /// routes it to an instance (see the module docs), sends it down that
    /// instance's link, waits up to `timeout` and judges the answer; what
    /// `POST /_simulator/push` does.
    ///
    /// # Errors
    /// [`DriverError::UnknownPark`] only; everything else is in the report.
    pub async fn push(
        &self,
        park_id: &str,
        request: &sdk::Request,
        timeout: Duration,
    ) -> Result<PushReport, DriverError> {
        let park = self.park(park_id)?;
        let data = String::from_utf8_lossy(&request.encode()).into_owned();
        let body = sdk_http::build(request.key(), None, &data, &park.key)
            .expect("an encoded message is a JSON object");
        let value: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
        Ok(push::push(
            &self.shared,
            push::Push {
                park_id,
                service_name: request.key(),
                body,
                lanes: routing::lanes_named(&value),
                timeout,
            },
        )
        .await)
    }

    /// [`SimulatorHandle::push`] with [`SimulatorConfig::answer_timeout`],
    /// read as the lot's answer.
    ///
    /// # Errors
    /// [`DriverError`]: no answer, an invalid one, an unknown park, a full
    /// queue, or no instance to deliver to.
    pub async fn call(
        &self,
        park_id: &str,
        request: &sdk::Request,
    ) -> Result<LotAnswer, DriverError> {
        let report = self
            .push(park_id, request, self.shared.config.answer_timeout)
            .await?;
        self.answer_of(park_id, request.key(), report)
    }

    /// Sends an arbitrary body to the lot (a wrongly signed one, say),
    /// routed by the lanes its data names, and waits for an answer to
    /// `service_name`.
    ///
    /// # Errors
    /// As [`SimulatorHandle::call`].
    pub async fn call_raw(
        &self,
        park_id: &str,
        service_name: &str,
        body: Vec<u8>,
    ) -> Result<LotAnswer, DriverError> {
        self.park(park_id)?;
        let lanes = sdk_http::Envelope::parse(&body)
            .ok()
            .and_then(|envelope| serde_json::from_slice(envelope.data_bytes()).ok())
            .map(|data: serde_json::Value| routing::lanes_named(&data))
            .unwrap_or_default();
        let report = push::push(
            &self.shared,
            push::Push {
                park_id,
                service_name,
                body,
                lanes,
                timeout: self.shared.config.answer_timeout,
            },
        )
        .await;
        self.answer_of(park_id, service_name, report)
    }

    fn answer_of(
        &self,
        park_id: &str,
        service_name: &str,
        report: PushReport,
    ) -> Result<LotAnswer, DriverError> {
        match report.verdict {
            // A service without a return table (4.2 update_balance) has no
            // message to decode its answer as.
            Verdict::Answered => match report.message {
                Some(message) => Ok(LotAnswer::Answered(Box::new(message))),
                None => Err(DriverError::InvalidAnswer(DecodeError::UnknownService {
                    service_name: service_name.to_string(),
                    role: bolink_types::Role::HttpReturn,
                })),
            },
            Verdict::Refused => Ok(LotAnswer::Refused(
                report
                    .answer
                    .as_ref()
                    .and_then(|a| a.get("errmsg"))
                    .and_then(|e| e.as_str())
                    .unwrap_or_default()
                    .to_string(),
            )),
            Verdict::Invalid => Err(DriverError::InvalidAnswer(
                report.error.unwrap_or(DecodeError::MissingServiceName),
            )),
            Verdict::NoAnswer if report.queue_full => Err(DriverError::QueueFull(park_id.into())),
            Verdict::NoAnswer if report.delivered => {
                Err(DriverError::Timeout(self.shared.config.answer_timeout))
            }
            Verdict::NoAnswer => Err(DriverError::NotDelivered(report.reason.unwrap_or_default())),
        }
    }

    /// Plays Bolink calling a vendor's callback server at `url`: signs
    /// `request` with the vendor's key, POSTs it (JSON or base64 body) and
    /// reads the answer.
    ///
    /// # Errors
    /// [`DriverError::UnknownPark`] for an unregistered vendor,
    /// [`DriverError::Timeout`] when no answer came.
    pub async fn call_vendor(
        &self,
        url: &str,
        union_id: i64,
        request: &api::Request,
        encoding: BodyEncoding,
    ) -> Result<VendorAnswer, DriverError> {
        let key = self
            .shared
            .vendors
            .get(&union_id)
            .ok_or_else(|| DriverError::UnknownPark(union_id.to_string()))?;
        let data = String::from_utf8(request.encode()).expect("serde_json writes UTF-8");
        let body = bolink_sign::newapi::build(&data, key, None, encoding)
            .expect("an encoded message is a JSON object");
        let mut answer = self.call_vendor_raw(url, body).await?;
        if answer.state == Some(1) {
            answer.response = api::Response::decode_as(request.key(), &answer.body).ok();
        }
        Ok(answer)
    }

    /// POSTs any body to a vendor's callback server (a forged one, say).
    ///
    /// # Errors
    /// [`DriverError::Timeout`] when no answer came.
    pub async fn call_vendor_raw(
        &self,
        url: &str,
        body: Vec<u8>,
    ) -> Result<VendorAnswer, DriverError> {
        let timeout = self.shared.config.answer_timeout;
        let response = self
            .shared
            .http
            .post(url)
            .header("content-type", crate::sdk_http::CONTENT_TYPE)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|_| DriverError::Timeout(timeout))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|_| DriverError::Timeout(timeout))?
            .to_vec();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        Ok(VendorAnswer {
            status,
            state: json.get("state").and_then(|v| v.as_i64()),
            errmsg: json
                .get("errmsg")
                .and_then(|v| v.as_str())
                .map(String::from),
            response: None,
            body,
        })
    }

    /// The messages the platform accepted (the newest
    /// [`SimulatorConfig::history_limit`]), oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.shared.books().received.iter().cloned().collect()
    }

    /// The messages the platform refused, and the lines of the TCP link it
    /// dropped or answered with nothing (the newest
    /// [`SimulatorConfig::history_limit`]), oldest first. Re-sent uploads
    /// are not refusals: see [`SimulatorHandle::deliveries`].
    pub fn rejected(&self) -> Vec<Rejection> {
        self.shared.books().rejected.iter().cloned().collect()
    }

    /// The cars the platform believes are in a lot (at most
    /// [`SimulatorConfig::history_limit`], oldest entry first).
    pub fn in_park(&self) -> Vec<InParkOrder> {
        let books = self.shared.books();
        books
            .in_park
            .iter()
            .map(|(_, order)| order.clone())
            .collect()
    }

    /// How many times each upload arrived, by `PARK_ID/idempotency key`
    /// (more than 1: re-sent, recorded once). At most
    /// [`SimulatorConfig::history_limit`] keys, the oldest forgotten first
    /// (a re-send of a forgotten key counts as new).
    pub fn deliveries(&self) -> HashMap<String, u32> {
        let books = self.shared.books();
        books
            .deliveries
            .iter()
            .map(|(key, count)| (key.clone(), *count))
            .collect()
    }

    /// How many logins succeeded.
    pub fn logins(&self) -> usize {
        self.shared.books().logins
    }

    /// How many sessions are open (expired ones go at the next login or
    /// use; at most [`SimulatorConfig::history_limit`]).
    pub fn sessions(&self) -> usize {
        self.shared.books().sessions.len()
    }

    /// The live sessions, oldest login first: park, `local_id`, link, lanes.
    pub fn live_sessions(&self) -> Vec<LiveSession> {
        self.shared
            .books()
            .live_sessions(self.shared.config.token_ttl)
    }

    /// Forgets every session: the next request with an old token is
    /// refused as [`SimulatorConfig::invalid_token`] says.
    pub fn expire_tokens(&self) {
        self.shared.books().clear_sessions();
    }

    /// Stops serving and waits for the server tasks to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.tcp_stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(server) = self.tcp_server.take() {
            let _ = server.await;
        }
    }

    fn park(&self, park_id: &str) -> Result<&Park, DriverError> {
        self.shared
            .parks
            .get(park_id)
            .ok_or_else(|| DriverError::UnknownPark(park_id.to_string()))
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.tcp_stop.send(true);
    }
}
