//! Derive macros for Bolink protocol messages.
//!
//! `#[derive(Message)]` gives a struct lenient wire reading that reports every
//! violation with its path, exact writing in the spec's wire types, length and
//! required-rule validation, a static schema, and (with `service` and `role`)
//! the `service_name` constant. `#[derive(CodeEnum)]` turns an enum into a set
//! of protocol codes, open (unknown codes kept in `Unknown`) or closed.
//!
//! The generated messages of `bolink-types` use these derives; a hand-written
//! message can use them too:
//!
//! ```
//! use bolink_types::{CodeEnum, Message, Money, UnknownCode};
//!
//! #[derive(Debug, Clone, PartialEq, CodeEnum)]
//! #[bolink(codes = "integer")]
//! pub enum Gate {
//!     #[bolink(code = 0, label = "入口")]
//!     Entry,
//!     #[bolink(code = 1, label = "出口")]
//!     Exit,
//!     Unknown(UnknownCode),
//! }
//!
//! #[derive(Debug, Clone, PartialEq, Message)]
//! #[bolink(service = "gate_fee", role = "request")]
//! pub struct GateFee {
//!     #[bolink(max_len = 8)]
//!     pub car_number: String,
//!     pub gate: Gate,
//!     #[bolink(wire = "text", max_len = 15)]
//!     pub fee: Money,
//!     #[bolink(max_len = 48, required_if(gate = [1]))]
//!     pub exit_channel: Option<String>,
//! }
//!
//! let fee: GateFee = bolink_types::decode(
//!     br#"{"service_name":"gate_fee","car_number":"京HP00G6","gate":"1","fee":4.5}"#,
//! ).unwrap_err().report().map(|r| r.to_string()).map(|text| {
//!     assert_eq!(text, "exit_channel: required when gate is 1");
//! }).map_or_else(|| unreachable!(), |_| GateFee {
//!     car_number: "京HP00G6".into(), gate: Gate::Exit, fee: "4.5".parse().unwrap(),
//!     exit_channel: Some("A1".into()),
//! });
//! assert_eq!(
//!     serde_json::to_string(&fee).unwrap(),
//!     r#"{"service_name":"gate_fee","car_number":"京HP00G6","gate":1,"fee":"4.5","exit_channel":"A1"}"#
//! );
//! ```
//!
//! Field attributes: `rename = "wireName"`, `wire = "text" | "number" | "json" | "nested"`
//! (defaults by type; money has none and must say), `max_len = N` (characters),
//! and one rule on an `Option` field: `required_if(field = [codes])`,
//! `required_if_not(field = [codes])`, `required_if_present(a, b)`,
//! `external = "condition outside the message"`. Struct attributes:
//! `service = "..."`, `role = "request" | "http_request" | "sdk_return" |
//! "http_return" | "async_result" | "response"`, `service_name = "required" |
//! "optional" | "absent"`, `constant(name = "...", value = "..."[, optional])`,
//! `together(a, b)`, `at_least_one(a, b)`.

mod attr;
mod code_enum;
mod message;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives wire reading and writing, validation and schema for a message
/// struct or a nested object. See the crate docs for the attributes.
#[proc_macro_derive(Message, attributes(bolink))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    message::derive(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives a protocol code enum. See the crate docs for the attributes.
#[proc_macro_derive(CodeEnum, attributes(bolink))]
pub fn derive_code_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    code_enum::derive(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
