//! HTTP transports for the Bolink (泊链) platform, on tokio:
//!
//! * [`sdk_http`]: the charging system's SDK-HTTP-mode client (login, token,
//!   signed uploads, long poll answered through a [`bolink_sdk::Handler`]);
//! * [`newapi`]: the new API's upstream client and the callback server a
//!   vendor mounts;
//! * [`simulator`]: the platform's side of both on loopback, for tests and
//!   `bolink demo`;
//! * [`serve`]: the hardened way to serve any of their routers (timeouts,
//!   a connection cap, a body limit, protocol JSON for every error).
#![deny(missing_docs)]

mod http;
pub mod newapi;
pub mod sdk_http;
pub mod serve;
pub mod simulator;

pub use http::{Exchange, Observer, DEFAULT_MAX_RESPONSE_BYTES};
