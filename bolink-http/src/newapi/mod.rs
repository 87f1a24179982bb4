//! The new platform API over HTTP: the callback server a vendor mounts
//! ([`callback_router`]), the upstream client ([`NewApiClient`]), and the
//! platform's side used by the simulator.

mod client;
pub(crate) mod platform;
mod server;

pub use client::{NewApiClient, NewApiConfig, NewApiError, PRODUCTION_BASE_URL, TEST_BASE_URL};
pub use server::{callback_router, CallbackConfig};
