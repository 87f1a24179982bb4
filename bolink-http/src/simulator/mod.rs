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
//! It answers as the platform's public server code does (see
//! `reference/sdk/_protocol.json`, `tcp_sdk_wire_from_public_code`), each
//! choice in [`SimulatorConfig`] with the faithful one as default:
//!
//! * an unknown or expired token: HTTP 200
//!   `{"state":0,"errmsg":"error:token无效","service_name":...}`
//!   ([`TokenRefusal`]; a missing token: `未识别到token标记`);
//! * at most 100 uploads per 10 s per token, beyond it
//!   `{"state":0,"errmsg":"request_over_times"}` ([`RateLimit`]);
//! * a re-sent upload (the same service with the same `order_id`, else
//!   `trade_no`) is recorded once and answered
//!   `{"state":0,"errmsg":"数据已处理过...","service_name",...}` with the
//!   data's `order_id` and `car_number` ([`ResendAnswer`]).
//!
//! Where the platform's behaviour is not public, the simulator's choices
//! are marked: a long poll with no message is answered with the body `500`
//! (as public client code expects); only uploads count against the rate
//! limit, not long polls; a re-send is recognised only once it is signed and
//! valid, so junk cannot poison the de-duplication.
//!
//! It is served by [`crate::serve`] (timeouts, a connection cap, a body limit
//! checked before reading, protocol JSON for every error), and it remembers
//! a bounded history ([`SimulatorConfig::history_limit`]).
//!
//! The new API's platform side is [`newapi`]; the simulator serves it on
//! every path that is not SDK-HTTP mode.

mod download;
mod history;
pub mod newapi;
mod state;
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
use bolink_types::newapi as api;
use bolink_types::{decode, sdk, DecodeError, Role};
use tokio::sync::{mpsc, oneshot};

use state::{Books, Park, Shared};
pub use state::{InParkOrder, Received, Rejection};

use crate::sdk_http::{DOWNLOAD_PATH, UPLOAD_PATH};
use crate::serve::{serve, ServeConfig};

/// The default [`SimulatorConfig::history_limit`]: 10,000 entries per list.
pub const DEFAULT_HISTORY_LIMIT: usize = 10_000;

/// How the simulator answers a request whose token is unknown, expired or
/// missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenRefusal {
    /// As the platform's public code: HTTP 200 with
    /// `{"state":0,"errmsg":"error:token无效",...}`.
    #[default]
    Platform,
    /// HTTP 401 with the same body (what the simulator did before it
    /// followed the public code).
    Unauthorized,
}

/// How the simulator answers a re-sent upload (recorded once either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResendAnswer {
    /// As the platform's public code:
    /// `{"state":0,"errmsg":"数据已处理过...","service_name",...}`.
    #[default]
    AlreadyProcessed,
    /// Acknowledged again with `state` 1.
    Acknowledged,
}

/// A per-token rate limit: at most `requests` within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How many requests a window allows.
    pub requests: usize,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// The platform's: 100 requests per 10 s per token.
    pub const PLATFORM: RateLimit = RateLimit {
        requests: 100,
        window: Duration::from_secs(10),
    };
}

/// How the simulated platform behaves.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// How long a long poll is held when no message comes (the platform:
    /// 30 s). Handlers get this plus 10 s before the server answers 408.
    pub poll_hold: Duration,
    /// How long a token lives.
    pub token_ttl: Duration,
    /// How long a driver waits for the lot's answer.
    pub answer_timeout: Duration,
    /// The largest request body accepted (64 KiB); a larger declared
    /// length is answered 413 before the body is read.
    pub body_limit: usize,
    /// How many entries each of its lists keeps (received, rejected,
    /// deliveries, in-park orders, sessions, queued downstream messages per
    /// park): [`DEFAULT_HISTORY_LIMIT`]. The oldest go first.
    pub history_limit: usize,
    /// How long a connection may take to send a request head, from its
    /// first byte (10 s).
    pub header_read_timeout: Duration,
    /// How long a connection may stay without a request (60 s).
    pub idle_timeout: Duration,
    /// How many connections are served at once (512; see
    /// [`ServeConfig::max_connections`]).
    pub max_connections: usize,
    /// How long requests in progress may take to finish at shutdown (2 s).
    pub shutdown_grace: Duration,
    /// How an unknown or expired token is answered ([`TokenRefusal::Platform`]).
    pub invalid_token: TokenRefusal,
    /// The per-token rate limit on uploads ([`RateLimit::PLATFORM`]); `None`
    /// for none.
    pub rate_limit: Option<RateLimit>,
    /// How a re-sent upload is answered ([`ResendAnswer::AlreadyProcessed`]).
    pub resend: ResendAnswer,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            poll_hold: Duration::from_secs(30),
            token_ttl: Duration::from_secs(2 * 60 * 60),
            answer_timeout: Duration::from_secs(10),
            body_limit: 64 * 1024,
            history_limit: DEFAULT_HISTORY_LIMIT,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(2),
            invalid_token: TokenRefusal::Platform,
            rate_limit: Some(RateLimit::PLATFORM),
            resend: ResendAnswer::AlreadyProcessed,
        }
    }
}

impl SimulatorConfig {
    /// The serving limits of this configuration.
    fn serve_config(&self) -> ServeConfig {
        ServeConfig::new()
            .header_read_timeout(self.header_read_timeout)
            .idle_timeout(self.idle_timeout)
            .request_timeout(self.poll_hold + Duration::from_secs(10))
            .max_connections(self.max_connections)
            .body_limit(self.body_limit)
            .shutdown_grace(self.shutdown_grace)
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
            let (queue_tx, queue_rx) = mpsc::channel(self.config.history_limit.max(1));
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
            books: Mutex::new(Books::new(self.config.history_limit)),
        });
        let app = Router::new()
            .route(UPLOAD_PATH, post(upload::upload))
            .route(DOWNLOAD_PATH, post(download::download))
            .fallback(newapi::upstream)
            // The handlers enforce `body_limit` themselves, to answer in the
            // protocol's JSON (the serving layer answers declared lengths over it).
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let config = self.config.serve_config().graceful_shutdown(async {
            let _ = stop_rx.await;
        });
        let server = tokio::spawn(serve(listener, app, config));
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
    /// The park's queue of downstream messages is full (the lot does not
    /// poll): [`SimulatorConfig::history_limit`] messages wait already.
    #[error("the downstream queue of park {0} is full")]
    QueueFull(String),
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
        // The receiver lives as long as the park, which lives as long as `self`:
        // the only error is a full queue.
        if park.queue_tx.try_send(body).is_err() {
            return Err(DriverError::QueueFull(park_id.to_string()));
        }
        {
            let mut books = self.shared.books();
            let waiting = books
                .awaiting
                .entry((park_id.to_string(), service_name.to_string()))
                .or_default();
            // Drivers that gave up are dropped as new ones come.
            waiting.retain(|waiter| !waiter.is_closed());
            waiting.push_back(tx);
        }
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

    /// The messages the platform accepted (the newest
    /// [`SimulatorConfig::history_limit`]), oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.shared.books().received.iter().cloned().collect()
    }

    /// The messages the platform refused (the newest
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

    /// Forgets every session: the next request with an old token is
    /// refused as [`SimulatorConfig::invalid_token`] says.
    pub fn expire_tokens(&self) {
        self.shared.books().clear_sessions();
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
        let mut books = self.shared.books();
        let key = (park_id.to_string(), service_name.to_string());
        if let Some(queue) = books.awaiting.get_mut(&key) {
            queue.retain(|waiter| !waiter.is_closed());
            if queue.is_empty() {
                books.awaiting.remove(&key);
            }
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

/// An HTTP-mode answer read against an SDK-mode table: the pages say
/// `data_target` is "SDK模式必传,HTTP模式不传", so a lot in HTTP mode leaves
/// it out and the table's fixed value stands for it.
fn http_mode_form(service_name: &str, role: Role, answer: &[u8]) -> Vec<u8> {
    let fixed = bolink_types::INTERFACES
        .iter()
        .filter(|i| i.service_name == Some(service_name))
        .flat_map(|i| i.roles.iter())
        .find(|r| r.role == role)
        .and_then(|r| {
            (r.schema)()
                .constants
                .iter()
                .find(|c| c.name == "data_target")
        });
    let mut object: serde_json::Map<String, serde_json::Value> =
        match serde_json::from_slice(answer) {
            Ok(object) => object,
            Err(_) => return answer.to_vec(),
        };
    match fixed {
        Some(constant) if !object.contains_key("data_target") => {
            object.insert("data_target".into(), constant.value.into());
            serde_json::to_vec(&object).unwrap_or_else(|_| answer.to_vec())
        }
        _ => answer.to_vec(),
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
        let answer = http_mode_form(service_name, role, answer);
        match sdk::Message::decode_as(role, service_name, &answer) {
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
