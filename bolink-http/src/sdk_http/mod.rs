//! SDK-HTTP mode: the charging system's client (login, uploads, long poll).
//!
//! Addresses from the HTTP-mode page: uploads go to `/bpd/upload.do` on
//! `ptest.bolink.club` (test) or `p.bolink.club` (production); downstream
//! messages are fetched by long polling `/bpd/download.do` (the path public
//! client code uses; the page's text about polling is cut).

mod client;
mod delivery;

pub use client::{ClientConfig, ClientError, Event, Exchange, Observer, SdkHttpClient};
pub use delivery::{Delivery, FlushReport};

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
pub const CONTENT_TYPE: &str = "application/json;charset=utf-8";
