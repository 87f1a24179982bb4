//! Typed, validated messages of the Bolink (泊链) parking platform.
//!
//! The message types are generated from `protocol-spec/` by
//! `cargo xtask codegen` (see [`sdk`] and [`newapi`]); this crate adds the
//! primitives they are made of ([`Money`], [`UnixSeconds`], open enums with an
//! `Unknown` variant) and the machinery that reads them leniently, writes
//! them exactly and reports every violation with its path.
//!
//! ```
//! use bolink_types::{sdk, Message};
//!
//! let bytes = br#"{"service_name":"query_price","park_id":"20003","pay_scene":"1"}"#;
//! let err = sdk::query_price::Request::decode(bytes).unwrap_err();
//! // pay_scene came as the string "1": accepted. What is missing is reported.
//! assert_eq!(
//!     err.to_string(),
//!     "out_channel_id: required when pay_scene is 1 or 2\n\
//!      query_order_no: required when pay_scene is 1 or 2"
//! );
//! ```
//!
//! To check bytes whose service (or family) is not known in advance, as
//! `bolink validate` does, use [`validate::validate`].

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Lets the derives name `::bolink_types` from inside this crate too.
extern crate self as bolink_types;

pub mod answer_rules;
pub mod catalog;
mod code;
mod ctx;
pub mod json_schema;
pub(crate) mod message;
mod money;
mod report;
pub mod schema;
#[cfg(feature = "proptest")]
#[cfg_attr(docsrs, doc(cfg(feature = "proptest")))]
pub mod strategy;
mod time;
pub mod validate;
pub mod wire;

#[doc(hidden)]
pub mod __private {
    //! Used by the code the derives emit; not a stable API.

    /// The `Unknown` value of an open enum, for a code no variant knows
    /// (called by `#[derive(CodeEnum)]`'s decoding only).
    pub fn unknown_code(code: crate::CodeRef<'_>) -> crate::UnknownCode {
        crate::UnknownCode::from_code(code)
    }
    pub use crate::rt::*;
    pub use crate::wire::scalar_support::*;
}
mod rt;

#[rustfmt::skip]
mod generated;

pub use bolink_derive::{CodeEnum, Message};
pub use code::{CodeEnum, CodeKind, CodeRef, CodeValue, UnknownCode};
pub use ctx::Ctx;
pub use generated::{
    catalog::{INTERFACES, SHARED_OBJECTS, TABLE_OF_CONTENTS},
    enums, newapi, sdk,
};
pub use message::{
    decode, decode_with_slips, peek_service_name, Answered, DecodeError, Decoded, Message, Object,
    Role, UnknownRole,
};
pub use money::{Money, MoneyError};
pub use report::{Report, Slip, SlipKind, TimeUnit, Violation, ViolationKind};
pub use rust_decimal::Decimal;
pub use time::{UnixMillis, UnixSeconds};

/// The crate README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
