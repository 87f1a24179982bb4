//! HTTP transports for the Bolink (泊链) platform.
#![deny(missing_docs)]

pub mod newapi;
