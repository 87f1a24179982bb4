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
//! // Lenient on the way in ("1" for a number, 4.5 for a money string),
//! // every violation at once, with its path.
//! let err = GateFee::decode(
//!     r#"{"service_name":"gate_fee","car_number":"京HP00G6","gate":"1","fee":4.5}"#.as_bytes(),
//! ).unwrap_err();
//! assert_eq!(err.to_string(), "exit_channel: required when gate is 1");
//!
//! // Exact on the way out.
//! let mut fee = GateFee::decode(
//!     r#"{"service_name":"gate_fee","car_number":"京HP00G6","gate":0,"fee":"4.50"}"#.as_bytes(),
//! ).unwrap();
//! fee.gate = Gate::Exit;
//! fee.exit_channel = Some("A1".into());
//! assert_eq!(
//!     String::from_utf8(fee.encode()).unwrap(),
//!     r#"{"service_name":"gate_fee","car_number":"京HP00G6","gate":1,"fee":"4.50","exit_channel":"A1"}"#
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
