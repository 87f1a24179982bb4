//! Signing and verification for the Bolink (泊链) parking-payment platform,
//! and its two message envelopes.
//!
//! The platform signs the JSON text of a message's `data` object:
//! `sign = UPPER_HEX(MD5(data + "key=" + key))`, with no separator between
//! the JSON and `key=`. Because the digest covers bytes, not values,
//! verification always hashes `data` exactly as received; nothing here
//! re-serialises JSON.
//!
//! * [`sign`] / [`verify`]: the bare algorithm.
//! * [`sdk_http`]: `{"service_name","sign","token","data"}` messages.
//! * [`newapi`]: `{"data","sign"[,"union_id"]}` messages, sent as JSON or
//!   base64.
//! * [`parse_any`]: either of the two, detected from the body.
//! * [`explain`]: why a sign does not match (which integrator's mistake
//!   reproduces it).
//!
//! No I/O and no async: callers bring the bytes.
//!
//! # Example
//!
//! ```
//! use bolink_sign::{sdk_http, sign, verify, Key, VerifyError};
//!
//! // The official test vector.
//! let key = Key::new("8403A41ED5EF20BC");
//! let data = r#"{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#;
//! assert_eq!(sign(data.as_bytes(), &key).to_string(), "CB649425CB5548A375099103AB04CC1E");
//! verify(data.as_bytes(), "cb649425cb5548a375099103ab04cc1e", &key)?;
//!
//! // Build a message, then read and check it as a receiver would.
//! let body = sdk_http::build("login", None, data, &key)?;
//! let envelope = sdk_http::Envelope::parse(&body)?;
//! assert_eq!(envelope.data_bytes(), data.as_bytes());
//! envelope.verify(&key)?;
//!
//! // Any change to the data, or another key, is caught.
//! let err = envelope.verify(&Key::new("other")).unwrap_err();
//! assert!(matches!(err, VerifyError::Mismatch { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod any;
mod error;
mod json_out;
mod key;
mod object;
mod sign;

pub mod explain;
pub mod newapi;
pub mod sdk_http;

pub use any::{parse_any, AnyBody, AnyEnvelope};
pub use error::{EnvelopeError, SignFormatError, VerifyError};
pub use key::Key;
pub use sign::{sign, verify, Sign};

/// The crate README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
