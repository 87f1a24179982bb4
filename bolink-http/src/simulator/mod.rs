//! A Bolink platform on loopback, for tests and demos.
//!
//! It speaks the platform's side of SDK-HTTP mode: accepts `login` and
//! uploads (verifying signatures and validating every message against the
//! spec, rejecting bad ones with `state` 0 and an `errmsg` as the platform
//! does), keeps the in-park orders it was told about, and plays drivers:
//! [`SimulatorHandle::call`] queues a downstream message (a price query, a
//! payment result, an unplated entry) for the lot's long poll and waits for
//! the lot's answer.
//!
//! Where the platform's behaviour is not public, the simulator's choices are
//! marked: an unknown or expired token is answered with HTTP 401, and a long
//! poll with no message with the body `500` (as public client code expects).

mod download;
pub(crate) mod state;
mod upload;

pub(crate) use upload::read_body;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use bolink_sdk::login::Ack;
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::{sdk_http, Key};
use bolink_types::enums::State as Outcome;
use bolink_types::{decode, newapi, sdk, DecodeError, Role};
use tokio::sync::{mpsc, oneshot};

use state::{Books, Park, Shared};
pub use state::{InParkOrder, Received, Rejection};

use crate::sdk_http::{DOWNLOAD_PATH, UPLOAD_PATH};

/// How the simulated platform behaves.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// How long a long poll is held when no message comes (the platform: 30 s).
    pub poll_hold: Duration,
    /// How long a token lives.
    pub token_ttl: Duration,
    /// How long a driver waits for the lot's answer.
    pub answer_timeout: Duration,
    /// The largest request body accepted.
    pub body_limit: usize,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            poll_hold: Duration::from_secs(30),
            token_ttl: Duration::from_secs(2 * 60 * 60),
            answer_timeout: Duration::from_secs(10),
            body_limit: 64 * 1024,
        }
    }
}

/// A registered lot: who may log in, with which key.
#[derive(Debug, Clone)]
pub struct ParkAccount {
    /// The vendor account.
    pub union_id: String,
    /// The lot.
    pub park_id: String,
    /// The key its messages are signed with.
    pub key: Key,
}

/// Builds and starts a simulator.
#[derive(Debug, Default)]
pub struct Simulator {
    config: SimulatorConfig,
    parks: Vec<ParkAccount>,
    vendors: Vec<(i64, Key)>,
}

impl Simulator {
    /// A simulator with the default configuration and no parks.
    pub fn new(config: SimulatorConfig) -> Simulator {
        Simulator {
            config,
            parks: Vec::new(),
            vendors: Vec::new(),
        }
    }

    /// Registers a lot.
    pub fn park(mut self, union_id: &str, park_id: &str, key: Key) -> Simulator {
        self.parks.push(ParkAccount {
            union_id: union_id.into(),
            park_id: park_id.into(),
            key,
        });
        self
    }

    /// Registers a new-API vendor: its requests carry `union_id` and are
    /// signed with `key`; so are the simulator's calls to its callback server.
    pub fn vendor(mut self, union_id: i64, key: Key) -> Simulator {
        self.vendors.push((union_id, key));
        self
    }

    /// Serves on `addr` (`127.0.0.1:0` picks a free port) until the handle
    /// is shut down or dropped.
    pub async fn start(self, addr: SocketAddr) -> std::io::Result<SimulatorHandle> {
        let mut parks = HashMap::new();
        for account in self.parks {
            let (queue_tx, queue_rx) = mpsc::unbounded_channel();
            parks.insert(
                account.park_id,
                Park {
                    key: account.key,
                    union_id: account.union_id,
                    queue_tx,
                    queue_rx: tokio::sync::Mutex::new(queue_rx),
                },
            );
        }
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            parks,
            vendors: self.vendors.into_iter().collect(),
            books: Mutex::new(Books::default()),
        });
        let app = Router::new()
            .route(UPLOAD_PATH, post(upload::upload))
            .route(DOWNLOAD_PATH, post(download::download))
            .fallback(crate::newapi::platform::upstream)
            // The handlers enforce `body_limit` themselves, to answer in the protocol's JSON.
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            // A serve error ends the simulator; tests see it as refused connections.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await;
        });
        Ok(SimulatorHandle {
            addr: local,
            shared,
            stop: Some(stop_tx),
            server: Some(server),
        })
    }
}

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
pub struct VendorAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The answer's `state`, when it has one.
    pub state: Option<i64>,
    /// The answer's `errmsg`, when it has one.
    pub errmsg: Option<String>,
    /// The answer as the interface's response table, when `state` is 1 and the page has one.
    pub response: Option<newapi::Response>,
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
}

/// A running simulator.
#[derive(Debug)]
pub struct SimulatorHandle {
    addr: SocketAddr,
    shared: state::State,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SimulatorHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give clients (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Plays Bolink calling the lot: signs `request` with the park's key,
    /// queues it for the lot's long poll, and waits for the answer.
    pub async fn call(
        &self,
        park_id: &str,
        request: &sdk::Request,
    ) -> Result<LotAnswer, DriverError> {
        let park = self.park(park_id)?;
        let data = String::from_utf8(request.encode()).expect("serde_json writes UTF-8");
        let body = sdk_http::build(request.key(), None, &data, &park.key)
            .expect("an encoded message is a JSON object");
        self.call_raw(park_id, request.key(), body).await
    }

    /// Queues an arbitrary body for the lot (a wrongly signed one, say) and
    /// waits for an answer to `service_name`.
    pub async fn call_raw(
        &self,
        park_id: &str,
        service_name: &str,
        body: Vec<u8>,
    ) -> Result<LotAnswer, DriverError> {
        let park = self.park(park_id)?;
        let (tx, rx) = oneshot::channel();
        self.shared
            .books()
            .awaiting
            .entry((park_id.to_string(), service_name.to_string()))
            .or_default()
            .push_back(tx);
        // The receiver lives as long as the park, which lives as long as `self`.
        let _ = park.queue_tx.send(body);
        let timeout = self.shared.config.answer_timeout;
        let answer = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            _ => {
                self.forget_waiter(park_id, service_name);
                return Err(DriverError::Timeout(timeout));
            }
        };
        read_answer(service_name, &answer)
    }

    /// Plays Bolink calling a vendor's callback server at `url`: signs
    /// `request` with the vendor's key, POSTs it (JSON or base64 body) and
    /// reads the answer.
    pub async fn call_vendor(
        &self,
        url: &str,
        union_id: i64,
        request: &newapi::Request,
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
            answer.response = newapi::Response::decode_as(request.key(), &answer.body).ok();
        }
        Ok(answer)
    }

    /// POSTs any body to a vendor's callback server (a forged one, say).
    pub async fn call_vendor_raw(
        &self,
        url: &str,
        body: Vec<u8>,
    ) -> Result<VendorAnswer, DriverError> {
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", crate::sdk_http::CONTENT_TYPE)
            .timeout(self.shared.config.answer_timeout)
            .body(body)
            .send()
            .await
            .map_err(|_| DriverError::Timeout(self.shared.config.answer_timeout))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|_| DriverError::Timeout(self.shared.config.answer_timeout))?
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

    /// Every message the platform accepted, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.shared.books().received.clone()
    }

    /// Every message the platform refused, oldest first.
    pub fn rejected(&self) -> Vec<Rejection> {
        self.shared.books().rejected.clone()
    }

    /// The cars the platform believes are in a lot.
    pub fn in_park(&self) -> Vec<InParkOrder> {
        self.shared.books().in_park.values().cloned().collect()
    }

    /// How many times each upload arrived, by `PARK_ID/idempotency key`
    /// (more than 1: re-sent, recorded once).
    pub fn deliveries(&self) -> HashMap<String, u32> {
        self.shared.books().deliveries.clone()
    }

    /// How many logins succeeded.
    pub fn logins(&self) -> usize {
        self.shared.books().logins
    }

    /// Forgets every session: the next request with an old token gets 401.
    pub fn expire_tokens(&self) {
        self.shared.books().sessions.clear();
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    fn park(&self, park_id: &str) -> Result<&Park, DriverError> {
        self.shared
            .parks
            .get(park_id)
            .ok_or_else(|| DriverError::UnknownPark(park_id.to_string()))
    }

    fn forget_waiter(&self, park_id: &str, service_name: &str) {
        if let Some(queue) = self
            .shared
            .books()
            .awaiting
            .get_mut(&(park_id.to_string(), service_name.to_string()))
        {
            queue.retain(|waiter| !waiter.is_closed());
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Reads a lot's answer: a refusal, or the service's return table.
fn read_answer(service_name: &str, answer: &[u8]) -> Result<LotAnswer, DriverError> {
    let ack: Ack = decode(answer).map_err(DriverError::InvalidAnswer)?;
    if ack.state != Outcome::Success {
        return Ok(LotAnswer::Refused(ack.errmsg.unwrap_or_default()));
    }
    let mut last = None;
    for role in [Role::HttpReturn, Role::SdkReturn] {
        match sdk::Message::decode_as(role, service_name, answer) {
            Ok(message) => return Ok(LotAnswer::Answered(Box::new(message))),
            Err(DecodeError::UnknownService { .. }) => continue,
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    Err(DriverError::InvalidAnswer(last.unwrap_or(
        DecodeError::UnknownService {
            service_name: service_name.to_string(),
            role: Role::HttpReturn,
        },
    )))
}
