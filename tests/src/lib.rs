//! Support for the conformance tests: the round-trip and mutation
//! properties of every generated type, built on the public strategies of
//! `bolink_types::strategy` (feature `proptest`), which work from a
//! message's static schema so that every generated type, including the ones
//! a new spec file adds, gets the same properties without new test code.

use bolink_types::schema::{Kind, ObjectSchema};
use bolink_types::CodeKind;
use serde_json::{Map, Value};

/// Checks that every field of an encoded message has the JSON type its kind
/// is written as; returns the first field that does not.
pub fn wrong_wire_type(
    schema: &'static ObjectSchema,
    value: &Map<String, Value>,
) -> Option<String> {
    for f in schema.fields {
        let Some(v) = value.get(f.name) else { continue };
        let ok = match f.kind {
            Kind::Text | Kind::MoneyText => v.is_string(),
            Kind::Integer | Kind::UnixSeconds | Kind::UnixMillis => v.is_i64() || v.is_u64(),
            Kind::Decimal | Kind::MoneyNumber => v.is_number(),
            Kind::Enum { schema: e, as_text } => {
                if as_text || e().kind == CodeKind::String {
                    v.is_string()
                } else {
                    v.is_number()
                }
            }
            Kind::Json => true,
            Kind::Object(inner) => match v {
                Value::Object(map) => {
                    if let Some(bad) = wrong_wire_type(inner(), map) {
                        return Some(format!("{}.{bad}", f.name));
                    }
                    true
                }
                _ => false,
            },
            Kind::Array(inner) => match v {
                Value::Array(items) => {
                    for item in items {
                        if let Value::Object(map) = item {
                            if let Some(bad) = wrong_wire_type(inner(), map) {
                                return Some(format!("{}[].{bad}", f.name));
                            }
                        }
                    }
                    true
                }
                _ => false,
            },
        };
        if !ok {
            return Some(f.name.to_string());
        }
    }
    None
}

/// Generates the round-trip and mutation properties for one message type.
#[macro_export]
macro_rules! message_properties {
    ($name:ident, $ty:ty) => {
        mod $name {
            use super::*;
            use $crate::__reexport::*;

            fn schema() -> &'static ::bolink_types::schema::ObjectSchema {
                <$ty as ::bolink_types::Object>::schema()
            }

            proptest! {
                #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

                #[test]
                fn valid_values_round_trip(map in ::bolink_types::strategy::valid_json_for(schema())) {
                    let bytes = serde_json::to_vec(&map).unwrap();
                    let decoded: $ty = match ::bolink_types::decode(&bytes) {
                        Ok(v) => v,
                        Err(e) => panic!("{}\n{}", e, String::from_utf8_lossy(&bytes)),
                    };
                    prop_assert!(::bolink_types::Object::validate(&decoded).is_ok());
                    let encoded = serde_json::to_vec(&decoded).unwrap();
                    let again: $ty = ::bolink_types::decode(&encoded).unwrap();
                    prop_assert_eq!(&again, &decoded);
                    prop_assert_eq!(serde_json::to_vec(&again).unwrap(), encoded.clone());
                    let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&encoded).unwrap();
                    prop_assert_eq!($crate::wrong_wire_type(schema(), &value), None);
                }
            }

            #[test]
            fn one_mutation_is_rejected_naming_the_field() {
                // A table of optional free-form JSON fields accepts every
                // value: there is nothing one mutation can break.
                if !::bolink_types::strategy::breakable(schema()) {
                    return;
                }
                proptest!(ProptestConfig { cases: 48, ..ProptestConfig::default() }, |(broken in ::bolink_types::strategy::broken_for(schema()))| {
                    let bytes = broken.to_bytes();
                    match ::bolink_types::decode::<$ty>(&bytes) {
                        Ok(_) => panic!("accepted after {:?} of {}: {}", broken.mutation, broken.path, String::from_utf8_lossy(&bytes)),
                        Err(e) => {
                            let report = e.report().expect("a violation report, not a syntax error");
                            prop_assert!(
                                report.has_path(&broken.path),
                                "{:?} of {} not named in:\n{}", broken.mutation, broken.path, report
                            );
                        }
                    }
                });
            }
        }
    };
}

#[doc(hidden)]
pub mod __reexport {
    pub use proptest::prelude::*;
}

/// The workspace README's Rust snippets, compiled and run as doctests so
/// the front page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
