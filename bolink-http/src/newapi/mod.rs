//! The new platform API over HTTP: the callback server a vendor mounts
//! ([`callback_router`]) and the upstream client ([`NewApiClient`]). The
//! platform's side, for simulators and tests, lives in the simulator
//! (`bolink_http::simulator::newapi`): this module never depends on it.
//!
//! The transport-free core (decode, verify, validate, dispatch, answer) is
//! [`bolink_sdk::newapi`].

#[cfg(feature = "newapi-client")]
mod client;
#[cfg(feature = "callback-server")]
mod server;

#[cfg(feature = "newapi-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "newapi-client")))]
pub use client::{
    NewApiClient, NewApiClientBuilder, NewApiConfig, NewApiError, NewApiTransport,
    PRODUCTION_BASE_URL, PRODUCTION_CLOUD_BASE_URL, TEST_BASE_URL, TEST_CLOUD_BASE_URL,
};
#[cfg(feature = "callback-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "callback-server")))]
pub use server::{callback_router, status_of, CallbackConfig, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT};
