//! SDK-HTTP mode: the charging system's link to the platform over HTTP.
//!
//! Addresses from the HTTP-mode page: uploads go to `/bpd/upload.do` on
//! `ptest.bolink.club` (test) or `p.bolink.club` (production); downstream
//! messages are fetched by long polling `/bpd/download.do` (the path public
//! client code uses; the page's text about polling is cut).
//!
//! The client is the SDK [`Engine`] over [`SdkHttpTransport`]: the engine
//! logs in, stores and paces uploads, retries, and answers downstream
//! messages through a [`Handler`](bolink_sdk::Handler); this module only
//! moves the bytes.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bolink_http::sdk_http::{self, ClientConfig};
//! use bolink_sdk::{Credentials, Handler};
//! use bolink_sign::Key;
//!
//! struct Lot;
//! impl Handler for Lot {}
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let credentials = Credentials::new("200208", "21835", "lane-1", Key::new("8403A41ED5EF20BC"));
//! let client = sdk_http::client(credentials, ClientConfig::with_base_url("http://127.0.0.1:8720"))
//!     .on_event(|event| println!("{event:?}"))
//!     .build();
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! client.run(Arc::new(Lot), shutdown).await?;
//! # Ok(()) }
//! ```

mod transport;

use bolink_sdk::engine::{Dialect, Engine, EngineBuilder};
use bolink_sdk::Credentials;

pub use transport::{ClientConfig, SdkHttpTransport};

/// The SDK-HTTP client: the engine over the HTTP transport.
pub type SdkHttpClient = Engine<SdkHttpTransport>;

/// Starts building an SDK-HTTP client for the lot `credentials` names
/// (add a store, events or an engine configuration, then `build`).
pub fn client(credentials: Credentials, config: ClientConfig) -> EngineBuilder<SdkHttpTransport> {
    Engine::builder(SdkHttpTransport::new(config), Dialect::sdk(credentials))
}

/// The test platform's base address.
pub const TEST_BASE_URL: &str = "http://ptest.bolink.club";
/// The production platform's base address.
pub const PRODUCTION_BASE_URL: &str = "http://p.bolink.club";
/// Where uploads (and answers to downstream messages) are POSTed.
pub const UPLOAD_PATH: &str = "/bpd/upload.do";
/// Where downstream messages are long-polled.
pub const DOWNLOAD_PATH: &str = "/bpd/download.do";
/// The body the platform answers a long poll with when no message came.
pub const NO_MESSAGE: &str = "500";
/// The content type of every request.
pub const CONTENT_TYPE: &str = crate::http::CONTENT_TYPE;
