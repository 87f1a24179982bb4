//! The Bolink (泊链) SDK's TCP link (the parking cloud's SDK port, 6789 /
//! 6791 in the documents) as a transport of the `bolink-sdk` delivery
//! engine.
//!
//! The engine signs, logs in, stores, paces, retries, answers downstream
//! messages through a [`Handler`](bolink_sdk::Handler) and classifies the
//! platform's answers; [`TcpTransport`] only moves bytes:
//!
//! * **Framing** ([`frame`]): every message is `"\n" + json + "\r"` in UTF-8;
//!   the heartbeat is the text `0x11`, answered with `0x12`.
//! * **One connection**, owned by a background task that reconnects with
//!   jittered backoff. The session is per connection: after a reconnect
//!   (or a newer login) a frame carrying the old token fails with
//!   [`SessionLost`](bolink_sdk::engine::TransportError::SessionLost)
//!   without being written, and the engine logs in again.
//! * **Answers are matched by position**: one frame in flight at a time
//!   (the server answers every frame, answers to its own messages
//!   included, from a thread pool and mostly without ids). A status object
//!   is that frame's answer unless it names another service; an envelope
//!   (`data`, `sign`) or another object goes to `receive`. A timeout, or
//!   an answer echoing another `order_id`, re-establishes the link: it is
//!   out of step.
//! * **Heartbeats** after login; too many unanswered in a row mean a dead
//!   link: it is closed and re-established.
//!
//! Every fact about the wire comes from the public parkingOS cloud server
//! (`github:ParkingOS/ParkingOS_cloud`, its `netty/SensorServer.java`,
//! `netty/SensorServerHandler.java`, `service/impl/DoUploadImpl.java`);
//! the modules cite the lines. The vendor SDK itself is a native library
//! whose client code is not public.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bolink_sdk::{Credentials, Handler};
//! use bolink_sign::Key;
//! use bolink_tcp::TcpConfig;
//!
//! struct Lot;
//! impl Handler for Lot {}
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let credentials = Credentials::new("200208", "21835", "lane-1", Key::new("8403A41ED5EF20BC"));
//! let client = bolink_tcp::client(credentials, TcpConfig::with_address("127.0.0.1:6789"))
//!     .on_event(|event| println!("{event:?}"))
//!     .build();
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! client.run(Arc::new(Lot), shutdown).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
pub mod frame;
mod link;
mod route;
mod transport;

use bolink_sdk::engine::{Dialect, Engine, EngineBuilder};
use bolink_sdk::Credentials;

pub use config::{TcpConfig, PRODUCTION_ADDRESS, SERVER_LINE_LIMIT, TEST_ADDRESS};
pub use frame::FrameError;
pub use transport::{Exchange, Observer, TcpStats, TcpTransport};

/// The SDK client over the TCP link: the engine over [`TcpTransport`].
pub type TcpClient = Engine<TcpTransport>;

/// Starts building an SDK client over the TCP link for the lot
/// `credentials` names (add a store, events or an engine configuration,
/// then `build`).
pub fn client(credentials: Credentials, config: TcpConfig) -> EngineBuilder<TcpTransport> {
    Engine::builder(TcpTransport::new(config), Dialect::sdk(credentials))
}
