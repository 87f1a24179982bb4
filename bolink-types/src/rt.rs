//! Runtime support for the code `#[derive(Message)]` and `#[derive(CodeEnum)]`
//! emit. Not a stable API: use the derives instead.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess};
use serde::ser::SerializeMap;
use serde::{Deserializer, Serializer};

pub use serde;

use crate::code::{CodeRef, CodeValue};
use crate::ctx::Ctx;
use crate::report::ViolationKind;
use crate::wire::{read_raw_text, read_scalar, CowStrSeed, Read, ReadSeed, Scalar, Wire, Written};
use crate::Object;

/// What was seen of one field while reading an object.
#[derive(Debug)]
pub enum Slot<T> {
    /// The key has not appeared.
    Unseen,
    /// The key appeared with a value.
    Seen(T),
    /// The key appeared with `null`.
    Null,
    /// The key appeared with a value that could not be read.
    Invalid,
}

/// The next key of an object, borrowed from the input when it has no escapes.
pub fn next_key<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    map.next_key_seed(CowStrSeed)
}

/// Skips the value of a repeated key (its violation is already recorded).
pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// Reads past a key the table does not have: accepted, as the platform's
/// readers accept it, and kept as a slip with its value as received.
pub fn unknown_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    ctx: &mut Ctx,
    key: &str,
) -> Result<(), A::Error> {
    let value = map.next_value_seed(RawTextSeed)?;
    ctx.slip_unknown_key(key, value);
    Ok(())
}

/// Reads the value of a known field into its slot, checking its length.
pub fn read_field<'de, A, T, F>(
    map: &mut A,
    ctx: &mut Ctx,
    name: &'static str,
    max_len: Option<usize>,
    slot: &mut Slot<T>,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Wire<F>,
{
    if !matches!(slot, Slot::Unseen) {
        ctx.report_field(name, ViolationKind::Duplicate);
        *slot = Slot::Invalid;
        return skip(map);
    }
    ctx.push_field(name);
    ctx.take_received_len();
    let read = map.next_value_seed(ReadSeed::<T, F>::new(ctx));
    let read = match read {
        Ok(read) => read,
        Err(e) => {
            ctx.pop();
            return Err(e);
        }
    };
    *slot = match read {
        Read::Value(value) => {
            // The length that counts is the text as received ("4.50" is 4
            // characters even though it reads as 4.5).
            let received = ctx.take_received_len();
            if let Some(max) = max_len {
                let actual = received.unwrap_or_else(|| value.wire_len());
                if actual > max {
                    ctx.report(ViolationKind::TooLong { max, actual });
                }
            }
            if let Some(kind) = value.check_value() {
                ctx.report(kind);
            }
            Slot::Seen(value)
        }
        Read::Absent => Slot::Null,
        Read::Invalid => Slot::Invalid,
    };
    ctx.pop();
    Ok(())
}

/// The final value of a field: absent optional fields become `None`, absent
/// required ones are recorded as missing.
pub fn finish<T: Wire<F>, F>(slot: Slot<T>, ctx: &mut Ctx, name: &'static str) -> Option<T> {
    match slot {
        Slot::Seen(value) => Some(value),
        Slot::Unseen | Slot::Null => {
            let absent = T::absent();
            if absent.is_none() {
                ctx.report_field(name, ViolationKind::Missing);
            }
            absent
        }
        Slot::Invalid => None,
    }
}

/// Reads a key whose value is fixed (`service_name`, `data_target`).
pub fn read_constant<'de, A: MapAccess<'de>>(
    map: &mut A,
    ctx: &mut Ctx,
    name: &'static str,
    expected: &'static str,
    seen: &mut bool,
) -> Result<(), A::Error> {
    if *seen {
        ctx.report_field(name, ViolationKind::Duplicate);
        return skip(map);
    }
    *seen = true;
    let scalar = map.next_value_seed(ScalarSeed)?;
    match scalar {
        Scalar::Str(text) if text == expected => {}
        Scalar::Null => *seen = false,
        other => ctx.report_field(
            name,
            ViolationKind::WrongConstant {
                expected,
                found: match other {
                    Scalar::Str(text) => format!("{text:?}"),
                    _ => "a value that is not a string".into(),
                },
            },
        ),
    }
    Ok(())
}

struct RawTextSeed;

impl<'de> DeserializeSeed<'de> for RawTextSeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        read_raw_text(d)
    }
}

struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        read_scalar(d)
    }
}

/// Records a missing fixed key when it is required.
pub fn require_constant(ctx: &mut Ctx, name: &'static str, seen: bool, required: bool) {
    if required && !seen {
        ctx.report_field(name, ViolationKind::Missing);
    }
}

/// Writes one field, skipping absent optional ones.
pub fn write_entry<M: SerializeMap, T: Wire<F>, F>(
    map: &mut M,
    name: &'static str,
    value: &T,
) -> Result<(), M::Error> {
    if value.is_absent() {
        return Ok(());
    }
    map.serialize_entry(name, &Written::<T, F>(value, std::marker::PhantomData))
}

/// Checks a field's length in characters.
pub fn check_len<T: Wire<F>, F>(ctx: &mut Ctx, name: &'static str, value: &T, max: usize) {
    let actual = value.wire_len();
    if actual > max {
        ctx.report_field(name, ViolationKind::TooLong { max, actual });
    }
}

/// Validates the nested objects inside a field (a no-op for scalars) and
/// the value itself.
pub fn check_nested<T: Wire<F>, F>(ctx: &mut Ctx, name: &'static str, value: &T) {
    if let Some(kind) = value.check_value() {
        ctx.report_field(name, kind);
    }
    ctx.push_field(name);
    value.validate_nested(ctx);
    ctx.pop();
}

/// Whether a value has one of the codes.
pub fn code_in<V: CodeValue>(value: &V, codes: &[CodeRef<'static>]) -> bool {
    value.as_code().is_some_and(|code| codes.contains(&code))
}

/// Whether a value is present and has none of the codes.
pub fn code_not_in<V: CodeValue>(value: &V, codes: &[CodeRef<'static>]) -> bool {
    value.as_code().is_some_and(|code| !codes.contains(&code))
}

/// Records `name: required when <condition>` when a triggered rule's field is absent.
pub fn require_when(
    ctx: &mut Ctx,
    name: &'static str,
    triggered: bool,
    present: bool,
    condition: &'static str,
) {
    if triggered && !present {
        ctx.report_field(
            name,
            ViolationKind::RequiredWhen {
                condition: condition.to_string(),
            },
        );
    }
}

/// Checks a group of fields sent together or not at all.
pub fn together(ctx: &mut Ctx, names: &[&'static str], present: &[bool]) {
    if present.iter().all(|p| *p) || present.iter().all(|p| !*p) {
        return;
    }
    let with: Vec<&'static str> = names
        .iter()
        .zip(present)
        .filter(|(_, p)| **p)
        .map(|(n, _)| *n)
        .collect();
    for (name, _) in names.iter().zip(present).filter(|(_, p)| !**p) {
        ctx.report_field(name, ViolationKind::RequiredTogether { with: with.clone() });
    }
}

/// Checks a group of which at least one field must be present.
pub fn at_least_one(ctx: &mut Ctx, names: &[&'static str], present: &[bool]) {
    if !present.iter().any(|p| *p) {
        if let Some(first) = names.first() {
            ctx.report_field(
                first,
                ViolationKind::AtLeastOne {
                    fields: names.to_vec(),
                },
            );
        }
    }
}

/// `serde::Deserialize` for derived types: strict, the first violation becomes the error.
pub fn deserialize<'de, T: Object, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let mut ctx = Ctx::new();
    let read = crate::wire::read_object::<T, D>(d, &mut ctx)?;
    match read {
        Read::Value(value) if ctx.is_clean() => Ok(value),
        _ => {
            let report = ctx.into_report();
            let message = if report.violations.is_empty() {
                "expected an object, found null".to_string()
            } else {
                report.to_string().replace('\n', "; ")
            };
            Err(serde::de::Error::custom(message))
        }
    }
}

/// `serde::Serialize` helper: a map writer for derived types.
pub fn serialize_map<S: Serializer>(s: S) -> Result<S::SerializeMap, S::Error> {
    s.serialize_map(None)
}

/// `serde::Deserialize` for derived code enums: unknown codes of a closed enum
/// and values of the wrong type become the error.
pub fn deserialize_code<'de, E: crate::CodeEnum, D: Deserializer<'de>>(
    d: D,
) -> Result<E, D::Error> {
    let mut ctx = Ctx::new();
    match crate::wire::scalar_support::read_code::<E, D>(d, &mut ctx, false)? {
        Read::Value(value) => Ok(value),
        _ => Err(serde::de::Error::custom(ctx.into_report().to_string())),
    }
}
