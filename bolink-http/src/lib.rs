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
#![deny(missing_docs)]

mod http;
pub mod newapi;
pub mod sdk_http;
pub mod serve;
#[cfg(feature = "simulator")]
pub mod simulator;

pub use http::{Exchange, Observer, DEFAULT_MAX_RESPONSE_BYTES};
