//! The transport-agnostic core of a Bolink (泊链) integration: no sockets,
//! only bytes in and bytes out. The one exception is the outbox's file
//! store, whose disk work runs on tokio's blocking pool.
//!
//! * [`Session`]: HTTP-mode login, token and its age, signed uploads, the
//!   long-poll request body, and answering downstream messages.
//! * [`Handler`]: one method per downstream service (generated from the
//!   spec); each default refuses with "not supported".
//! * [`Refusal`] / [`Answer`]: what a handler returns.
//! * [`outbox`]: where uploads wait until the platform acknowledged them
//!   (in memory, or in a redb file), claimed by a delivery engine.
//!
//! Any transport drives it: `bolink-http` over HTTP, a socket later.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Instant;
//! use bolink_sdk::{Answer, Credentials, Handler, Session};
//! use bolink_sign::Key;
//! use bolink_types::sdk::query_price;
//!
//! struct Lot;
//! impl Handler for Lot {
//!     async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
//!         Err(bolink_sdk::Refusal::new(format!("no car {:?}", request.car_number)))
//!     }
//! }
//!
//! let mut session = Session::new(Credentials::new("200208", "21835", "lane-1", Key::new("k")));
//! let login = session.login_request(); // POST this, then:
//! session.accept_login_reply(br#"{"service_name":"login","state":1,"token":"t0"}"#, Instant::now())?;
//!
//! // A downstream message fetched by long polling, answered through the handler.
//! let data = r#"{"service_name":"query_price","park_id":"21835","pay_scene":0,"car_number":"京A12345","order_id":"1"}"#;
//! let body = bolink_sign::sdk_http::build("query_price", None, data, &Key::new("k"))?;
//! let done = session.answer(&Lot, &body, Instant::now()).await?;
//! assert_eq!(done.refusal.unwrap().errmsg, "no car Some(\"京A12345\")");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod answer;
pub mod backoff;
mod clock;
mod downstream;
pub mod engine;
mod generated;
mod identity;
mod invalid;
mod json_object;
pub mod logging;
pub mod login;
pub mod newapi;
mod other;
pub mod outbox;
mod session;
mod text;

pub use answer::{Answer, LinkMode, Refusal};
pub use downstream::{Downstream, DownstreamError};
pub use generated::handler::{CallbackHandler, Handler, CALLBACK_SERVICES, DOWNSTREAM_SERVICES};
pub use identity::Credentials;
pub use invalid::InvalidMessage;
pub use other::{OtherAnswer, OtherService};
pub use session::{Session, SessionError, DEFAULT_TOKEN_MAX_AGE};
pub use text::Text;
