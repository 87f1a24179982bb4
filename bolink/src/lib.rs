#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Every message of the SDK protocol and the new API as a validated type;
/// decoding, validation, encoding, schemas and the shared enums
/// (the `bolink-types` crate).
#[doc(inline)]
pub use bolink_types as types;

/// MD5 signing, constant-time verification and the two envelopes
/// (the `bolink-sign` crate).
#[doc(inline)]
pub use bolink_sign as sign;

/// Sessions, the delivery engine, the downstream and callback handlers and
/// the outbox (the `bolink-sdk` crate).
#[cfg(feature = "engine")]
#[cfg_attr(docsrs, doc(cfg(feature = "engine")))]
#[doc(inline)]
pub use bolink_sdk as engine;

/// The HTTP transports: SDK-HTTP client, new-API client and callback
/// server, the hardened server loop and the simulator, each behind its
/// feature (the `bolink-http` crate).
#[cfg(any(
    feature = "sdk-http",
    feature = "newapi-client",
    feature = "callback-server",
    feature = "simulator"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "sdk-http",
        feature = "newapi-client",
        feature = "callback-server",
        feature = "simulator"
    )))
)]
#[doc(inline)]
pub use bolink_http as http;

/// The SDK's TCP link as an engine transport (the `bolink-tcp` crate).
#[cfg(feature = "tcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "tcp")))]
#[doc(inline)]
pub use bolink_tcp as tcp;
