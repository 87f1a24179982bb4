//! proptest strategies for every message (feature `proptest`): values that
//! satisfy every rule of a table, and values broken by exactly one mutation.
//!
//! The strategies work from a message's static schema ([`Object::schema`]),
//! so every generated type, and every type of a spec of your own, gets them
//! without code of its own. They are the strategies this workspace's own
//! conformance tests run every generated type through.
//!
//! * [`valid`]: decoded messages of a type, each satisfying every length,
//!   type and conditional rule of its table (optional fields present or
//!   not, nested objects and arrays, unknown codes of open enums);
//! * [`valid_json`]: the same as the JSON object a sender would put on the
//!   wire, for feeding raw bytes to your own parsing;
//! * [`broken`]: a valid JSON message with exactly one mutation (a required
//!   field removed, a text one character too long, a value of the wrong
//!   JSON type), with the [`path`](Broken::path) a violation must name.
//!
//! # Testing a handler
//!
//! A lot's price rule, checked for every request the table allows: the
//! answer must satisfy its own table, including the rules that name the
//! request. (Leave out the `in_time` line and the first property fails
//! with `in_time: required when the request's pay_scene was 0 or 2`.)
//!
//! ```
//! use bolink_types::answer_rules::validate_answer;
//! use bolink_types::enums::State;
//! use bolink_types::sdk::query_price::{HttpReturn, Request};
//! use bolink_types::strategy;
//! use bolink_types::{Money, UnixSeconds};
//! use proptest::prelude::*;
//!
//! /// The code under test: 5.00 per started hour.
//! fn price(request: &Request) -> HttpReturn {
//!     let mut answer = HttpReturn::new(
//!         State::Success,
//!         60,
//!         request.park_id.clone(),
//!         request.order_id.clone().unwrap_or_default(),
//!         Money::from_cents(500),
//!     );
//!     answer.car_number = request.car_number.clone();
//!     // The entry time of the car, as the lot recorded it.
//!     answer.in_time = answer.car_number.as_ref().map(|_| UnixSeconds::from(1_490_875_218));
//!     answer.query_order_no = request.query_order_no.clone();
//!     answer
//! }
//!
//! proptest!(|(request in strategy::valid::<Request>())| {
//!     let answer = price(&request);
//!     if let Err(report) = validate_answer(&answer, &request) {
//!         panic!("{report}\nfor {request:?}");
//!     }
//! });
//!
//! // And the handler's parsing of raw bytes refuses every broken request,
//! // naming the field that was broken.
//! proptest!(|(broken in strategy::broken::<Request>())| {
//!     let error = bolink_types::decode::<Request>(&broken.to_bytes()).unwrap_err();
//!     prop_assert!(error.report().is_some_and(|r| r.has_path(&broken.path)));
//! });
//! ```

mod mutation;
mod values;

use std::fmt;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value};

use crate::message::{decode, Object};
use crate::schema::ObjectSchema;

pub use mutation::{apply, breakable, pick, targets, Mutation, PathStep, Target};

/// Decoded values of `T`, each satisfying every rule of its table.
///
/// Generated as JSON (see [`valid_json`]) and decoded, so each value is one
/// a sender could have sent.
pub fn valid<T: Object + fmt::Debug>() -> BoxedStrategy<T> {
    valid_json::<T>()
        .prop_filter_map("decodes as its type", |json| {
            serde_json::to_vec(&json)
                .ok()
                .and_then(|bytes| decode::<T>(&bytes).ok())
        })
        .boxed()
}

/// JSON objects (the wire form of a `T`) that satisfy every rule of its table.
pub fn valid_json<T: Object>() -> BoxedStrategy<Map<String, Value>> {
    valid_json_for(T::schema())
}

/// JSON objects that satisfy every rule of `schema`.
pub fn valid_json_for(schema: &'static ObjectSchema) -> BoxedStrategy<Map<String, Value>> {
    values::valid_object(schema, 0)
}

/// Valid JSON messages of `T` broken by exactly one mutation.
pub fn broken<T: Object>() -> BoxedStrategy<Broken> {
    broken_for(T::schema())
}

/// Valid JSON objects of `schema` broken by exactly one mutation.
///
/// Values that no single mutation can break (every field present is
/// free-form JSON) are skipped; for a table where that is always so
/// ([`breakable`] is false) proptest gives up with "too many local
/// rejects".
pub fn broken_for(schema: &'static ObjectSchema) -> BoxedStrategy<Broken> {
    (valid_json_for(schema), any::<Index>())
        .prop_filter_map(
            "has a field one mutation can break",
            move |(json, index)| {
                let targets = targets(schema, &json);
                let target = pick(&targets, index)?;
                Some(Broken {
                    json: apply(&json, target),
                    path: target.display.clone(),
                    mutation: target.mutation,
                })
            },
        )
        .boxed()
}

/// A message broken by one mutation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Broken {
    /// The message as JSON, with the mutation applied.
    pub json: Map<String, Value>,
    /// The broken field's path as a violation names it (`car_number`,
    /// `discount_info.coupon_list[0].unit`).
    pub path: String,
    /// What was done to it.
    pub mutation: Mutation,
}

impl Broken {
    /// The message as bytes, as a sender would put it on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A map of JSON values always serialises.
        serde_json::to_vec(&self.json).unwrap_or_default()
    }
}
