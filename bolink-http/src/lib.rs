//! HTTP transports for the Bolink (泊链) platform, on tokio:
//!
//! * [`sdk_http`]: the charging system's SDK-HTTP-mode client (login, token,
//!   signed uploads, long poll answered through a [`bolink_sdk::Handler`]);
//! * [`newapi`]: the new API's upstream client and the callback server a
//!   vendor mounts;
//! * `simulator` (behind the `simulator` feature, off by default): the
//!   platform's side of SDK-HTTP mode, the SDK's TCP link and the new API
//!   on loopback, drivable through `/_simulator/*`, for tests, `bolink demo`
//!   and `bolink simulate`;
//! * [`serve`]: the hardened way to serve any of their routers (timeouts,
//!   a connection cap, a body limit, protocol JSON for every error).
//!
//! # Features
//!
//! | feature | what it adds | on by default |
//! | --- | --- | --- |
//! | `sdk-http` | [`sdk_http`], the SDK-HTTP-mode client (reqwest) | yes |
//! | `newapi-client` | `newapi::NewApiClient` and its transport (reqwest) | yes |
//! | `callback-server` | `newapi::callback_router` (axum), implies `server` | yes |
//! | `server` | [`serve`], the hardened hyper server loop | via `callback-server` |
//! | `rustls` | HTTPS for the clients through rustls | yes |
//! | `native-tls` | HTTPS for the clients through the system's TLS library | no |
//! | `simulator` | the platform simulator (all of the above, plus tokens) | no |
//!
//! Every HTTP client can be given a `reqwest::Client` of your own (custom
//! CA, proxy, connection pool) through its transport's `with_client`; no
//! error type of this crate carries a reqwest type.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "sdk-http", feature = "newapi-client"))]
mod http;
#[cfg(any(feature = "newapi-client", feature = "callback-server"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "newapi-client", feature = "callback-server")))
)]
pub mod newapi;
#[cfg(feature = "sdk-http")]
#[cfg_attr(docsrs, doc(cfg(feature = "sdk-http")))]
pub mod sdk_http;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod serve;
#[cfg(feature = "simulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulator")))]
pub mod simulator;

#[cfg(any(feature = "sdk-http", feature = "newapi-client"))]
pub use http::{Exchange, Observer, DEFAULT_MAX_RESPONSE_BYTES};
