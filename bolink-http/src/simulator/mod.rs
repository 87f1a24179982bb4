//! A Bolink platform on loopback, for tests, demos and a lot's developer
//! (behind the `simulator` feature).
//!
//! It speaks the platform's side of SDK-HTTP mode and, when asked
//! ([`Simulator::tcp`]), of the SDK's TCP link: accepts `login` and
//! uploads (verifying signatures and validating every message against the
//! spec, rejecting bad ones with `state` 0 and an `errmsg` as the platform
//! does), keeps the in-park orders it was told about, and plays drivers:
//! [`SimulatorHandle::push`] (or `POST /_simulator/push`) sends a downstream
//! message (a price query, a payment result, an unplated entry) to the
//! lot, waits for the answer and judges it.
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
//! The TCP link follows the public parkingOS cloud server line by line
//! (framing, heartbeats, the order of its checks and their answers, its
//! re-send memory, the answers to each upload): its module docs cite the
//! lines. Uploads over TCP land in the same books as those over HTTP.
//!
//! Where the platform's behaviour is not public, the simulator's choices
//! are marked: a long poll with no message is answered with the body `500`
//! (as public client code expects); only uploads count against the rate
//! limit, not long polls; over SDK-HTTP a re-send is recognised only once
//! it is signed and valid, so junk cannot poison the de-duplication; an
//! envelope whose `service_name` is not its data's is refused (the sign
//! covers only the data); new-API data naming another vendor's
//! `union_id`, or a park registered to another vendor, is refused.
//!
//! # Sessions and lanes
//!
//! Every logged-in charging-system instance (`park_id` + `local_id`, on
//! either link) has its own session and its own way down: its long-poll
//! queue, or its TCP connection. A `local_id` such as
//! `aaa001_channels_A1_A2_A3` binds lanes A1, A2 and A3; a downstream
//! message naming a lane (`channel_id`, `in_channel_id`, `out_channel_id`)
//! goes to the instance managing it, else to the park's instance without
//! lane binding, else nowhere; one naming no lane goes to the park's most
//! recently logged-in instance (see `routing.rs`).
//!
//! # The control surface
//!
//! On the HTTP listener, under `/_simulator/` (no platform path starts so).
//! They are unauthenticated, and `callback` makes the simulator call any
//! URL: serve the simulator on loopback or a network you trust. Errors are
//! the protocol's JSON, `{"state":0,"errmsg":...,"violations":[...]}`, with
//! 400 (an invalid request), 404 (an unknown park) or 413 (a body over
//! [`SimulatorConfig::body_limit`]).
//!
//! `POST /_simulator/push` signs a downstream request with the park's key,
//! routes it to an instance, sends it down that instance's link, waits
//! (`timeout_ms`, default [`SimulatorConfig::answer_timeout`], at most the
//! long poll's hold plus 5 s) and judges the answer against the service's
//! return table: `http_return` over SDK-HTTP, `sdk_return` over the TCP
//! link (a page with only one is judged against that one):
//!
//! ```text
//! POST /_simulator/push
//! {"park_id":"21835","message":{"service_name":"query_price","park_id":"21835",
//!   "pay_scene":0,"car_number":"京A12345","order_id":"o-1"},"timeout_ms":5000}
//!
//! 200 {"delivered":true,"verdict":"answered","answer":{"state":1,"price":"5.00",...},
//!      "violations":[],"reason":null,"link":"http","local_id":"lane-1","table":"http-return"}
//! ```
//!
//! `verdict` is `answered` (`state` 1, valid), `refused` (`state` 0; the
//! refusal's own violations are listed), `invalid` (the answer breaks its
//! table, or has no readable `state`) or `no_answer` (nothing in time;
//! `delivered` says whether the message reached the lot, `reason` why not).
//! A push waits for a routable instance up to its timeout, where the
//! platform would drop a message for an offline one.
//!
//! `POST /_simulator/callback` calls a vendor's new-API callback server as
//! the platform would, signed with `key`, the body as `encoding` (`json`,
//! the default, or `base64`); the answer (at most
//! [`CALLBACK_ANSWER_LIMIT`] bytes) is judged against the callback's
//! response table where the page has one:
//!
//! ```text
//! POST /_simulator/callback
//! {"url":"http://127.0.0.1:9000/bolink/outpark","encoding":"base64","key":"8403A41ED5EF20BC",
//!  "message":{"service_name":"outpark","state":1,"park_id":"21835","order_id":"o-1",
//!   "trade_no":"t-1","pay_type":"wallet","errmsg":""}}
//!
//! 200 {"status":200,"body":"{\"service_name\":\"outpark\",\"state\":1}","verdict":"answered",
//!      "violations":[],"reason":null,"signed":false}
//! ```
//!
//! `GET /_simulator/state` returns what the simulator holds:
//!
//! ```text
//! 200 {"in_park":[{"park_id":"21835","order_id":"o-1","car_number":"京A12345"}],
//!      "deliveries":{"21835/in_park:o-1":2},
//!      "rejected":[{"service_name":"in_park","reason":"error:token无效"}],
//!      "sessions":[{"park_id":"21835","local_id":"lotA_channels_A1","link":"tcp","lanes":["A1"]}],
//!      "received":[{"park_id":"21835","service_name":"in_park","data":{...}}],
//!      "logins":3}
//! ```
//!
//! It is served by [`crate::serve`] (timeouts, a connection cap, a body limit
//! checked before reading, protocol JSON for every error), and it remembers
//! a bounded history ([`SimulatorConfig::history_limit`]); the TCP link is
//! bounded too ([`SimulatorConfig::tcp_max_connections`],
//! [`SimulatorConfig::tcp_idle_timeout`], lines over [`TCP_LINE_LIMIT`]
//! bytes dropped as netty drops them).
//!
//! Every exchange can be watched ([`Simulator::observe`]): one
//! [`Exchange`] per login, upload, answer, push and callback, without keys.
//!
//! The new API's platform side is [`newapi`]; the simulator serves it on
//! every path that is neither SDK-HTTP mode nor `/_simulator/`.

mod callback;
mod config;
mod control;
mod download;
mod filing;
mod handle;
mod history;
pub mod newapi;
mod observe;
mod push;
mod routing;
mod state;
mod tcp;
mod upload;
mod verdict;

pub(crate) use upload::read_body;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use bolink_sign::Key;
use tokio::sync::{oneshot, watch, Notify};

use state::{Books, Park, Shared};

pub use callback::{CallbackReport, CALLBACK_ANSWER_LIMIT};
pub use config::{
    RateLimit, ResendAnswer, SimulatorConfig, TokenRefusal, DEFAULT_HISTORY_LIMIT, TCP_LINE_LIMIT,
};
pub use control::{CALLBACK_PATH, PUSH_PATH, STATE_PATH};
pub use handle::{DriverError, LotAnswer, SimulatorHandle, VendorAnswer};
pub use observe::{Direction, Exchange, ExchangeObserver, Link};
pub use push::PushReport;
pub use state::{InParkOrder, LiveSession, Received, Rejection};
pub use verdict::Verdict;

use crate::sdk_http::{DOWNLOAD_PATH, UPLOAD_PATH};
use crate::serve::serve;

/// A registered lot: who may log in, with which key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ParkAccount {
    /// The vendor account.
    pub union_id: String,
    /// The lot.
    pub park_id: String,
    /// The key its messages are signed with.
    pub key: Key,
}

/// Builds and starts a simulator.
#[derive(Default)]
pub struct Simulator {
    config: SimulatorConfig,
    parks: Vec<ParkAccount>,
    vendors: Vec<(i64, Key)>,
    tcp: Option<SocketAddr>,
    observer: Option<ExchangeObserver>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("config", &self.config)
            .field("parks", &self.parks.len())
            .field("vendors", &self.vendors.len())
            .field("tcp", &self.tcp)
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

impl Simulator {
    /// A simulator with this configuration and no parks.
    pub fn new(config: SimulatorConfig) -> Simulator {
        Simulator {
            config,
            ..Simulator::default()
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

    /// Also listens for the SDK's TCP link on `addr` (`127.0.0.1:0` picks
    /// a free port; see [`SimulatorHandle::tcp_addr`]).
    pub fn tcp(mut self, addr: SocketAddr) -> Simulator {
        self.tcp = Some(addr);
        self
    }

    /// Shows every exchange to `observer` (see [`Exchange`]).
    pub fn observe(mut self, observer: impl Fn(&Exchange) + Send + Sync + 'static) -> Simulator {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Serves SDK-HTTP mode, the new API and the control surface on `addr`
    /// (`127.0.0.1:0` picks a free port), and the TCP link when asked,
    /// until the handle is shut down or dropped.
    ///
    /// # Errors
    /// When a listener cannot bind.
    pub async fn start(self, addr: SocketAddr) -> std::io::Result<SimulatorHandle> {
        let parks = self
            .parks
            .into_iter()
            .map(|account| {
                (
                    account.park_id,
                    Park {
                        key: account.key,
                        union_id: account.union_id,
                    },
                )
            })
            .collect();
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            parks,
            vendors: self.vendors.into_iter().collect(),
            books: Mutex::new(Books::new(self.config.history_limit)),
            observer: self.observer,
            logged_in: Notify::new(),
            // Callback servers are called as the platform would: no
            // redirects followed (an answer is the server's own), a bounded
            // connect time.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(5))
                .build()
                .map_err(std::io::Error::other)?,
        });
        let app = Router::new()
            .route(UPLOAD_PATH, post(upload::upload))
            .route(DOWNLOAD_PATH, post(download::download))
            .merge(control::routes())
            .fallback(newapi::upstream)
            // The handlers enforce `body_limit` themselves, to answer in the
            // protocol's JSON (the serving layer answers declared lengths over it).
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let tcp_listener = match self.tcp {
            Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
            None => None,
        };
        let tcp_addr = match &tcp_listener {
            Some(listener) => Some(listener.local_addr()?),
            None => None,
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let config = self.config.serve_config().graceful_shutdown(async {
            let _ = stop_rx.await;
        });
        let server = tokio::spawn(serve(listener, app, config));
        let (tcp_stop, tcp_stopped) = watch::channel(false);
        let tcp_server = tcp_listener
            .map(|listener| tokio::spawn(tcp::serve(shared.clone(), listener, tcp_stopped)));
        Ok(SimulatorHandle {
            addr: local,
            tcp_addr,
            shared,
            stop: Some(stop_tx),
            server: Some(server),
            tcp_stop,
            tcp_server,
        })
    }
}
