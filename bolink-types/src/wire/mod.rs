//! How field values are written and (leniently) read.
//!
//! A field's Rust type says what the value is; its *wire form* says how it is
//! written: money is `Money` whether the page sends `"4.0"` or `0.04`. The
//! form is a marker type ([`Text`], [`Number`], [`Json`], [`Nested`]) and
//! [`Wire<F>`] is implemented for every (type, form) pair that makes sense, so
//! `#[bolink(wire = "text")]` on a field that cannot be text is a compile error.
//!
//! Reading never fails on a value of the wrong type: the value is consumed and
//! a violation is recorded with its path, so one pass reports every problem.
//! Only malformed JSON stops a decode.

mod nested;
pub(crate) mod number;
mod scalar;

use serde::{Deserializer, Serializer};

use crate::ctx::Ctx;
use crate::schema::Kind;

pub use nested::{read_object, ObjectVisitor};
pub(crate) use number::is_number_text;
pub(crate) use scalar::{read_raw_text, read_scalar, CowStrSeed, Scalar};

/// Helpers for enum codes, used by `#[derive(CodeEnum)]`.
#[doc(hidden)]
pub mod scalar_support {
    pub use super::scalar::{code_len, read_code, write_code_number, write_code_text};
}

/// Written as a JSON string.
#[derive(Debug, Clone, Copy)]
pub struct Text;

/// Written as a JSON number.
#[derive(Debug, Clone, Copy)]
pub struct Number;

/// Written as free-form JSON.
#[derive(Debug, Clone, Copy)]
pub struct Json;

/// Written as a nested JSON object or array of objects.
#[derive(Debug, Clone, Copy)]
pub struct Nested;

/// The outcome of reading one value.
#[derive(Debug)]
pub enum Read<T> {
    /// A value of the field's type.
    Value(T),
    /// `null`: the same as an absent key.
    Absent,
    /// A value that could not be read; its violation is already recorded.
    Invalid,
}

/// A value that can be written in wire form `F` and read back leniently.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be written in wire form `{F}`",
    label = "pick a wire form this type supports with #[bolink(wire = \"...\")]",
    note = "money needs an explicit form: #[bolink(wire = \"text\")] for \"4.0\" or #[bolink(wire = \"number\")] for 0.04"
)]
pub trait Wire<F>: Sized {
    /// The kind recorded in the schema.
    const KIND: Kind;

    /// Writes the value in form `F`.
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// Reads a value, recording a violation at the context's path when it
    /// cannot; errors only on malformed JSON.
    fn read<'de, D: Deserializer<'de>>(
        deserializer: D,
        ctx: &mut Ctx,
    ) -> Result<Read<Self>, D::Error>;

    /// Length in characters of the value's wire text, for `max_len`.
    fn wire_len(&self) -> usize;

    /// Whether the value stands for an absent field (`None`).
    fn is_absent(&self) -> bool {
        false
    }

    /// The value of a field whose key is absent: `Some(None)` for optional
    /// fields, `None` (a violation) for required ones.
    fn absent() -> Option<Self> {
        None
    }

    /// Validates nested objects inside the value (nothing for scalars).
    fn validate_nested(&self, _ctx: &mut Ctx) {}

    /// What is wrong with the value itself whatever its length, checked on
    /// values built in code as on values read (a millisecond timestamp in a
    /// seconds field); `None` for most types.
    fn check_value(&self) -> Option<crate::ViolationKind> {
        None
    }
}

/// The default wire form of a type, used when a field has no `wire` attribute.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no default wire form",
    label = "add #[bolink(wire = \"text\")] or #[bolink(wire = \"number\")] to this field",
    note = "money is written as a string on some pages and as a number on others: say which"
)]
pub trait DefaultWire {
    /// The form.
    type Form;
}

impl DefaultWire for String {
    type Form = Text;
}
impl DefaultWire for i64 {
    type Form = Number;
}
impl DefaultWire for rust_decimal::Decimal {
    type Form = Number;
}
impl DefaultWire for crate::UnixSeconds {
    type Form = Number;
}
impl DefaultWire for crate::UnixMillis {
    type Form = Number;
}
impl DefaultWire for serde_json::Value {
    type Form = Json;
}
impl<T: DefaultWire> DefaultWire for Option<T> {
    type Form = T::Form;
}
impl<T: crate::Object> DefaultWire for Vec<T> {
    type Form = Nested;
}

impl<T: Wire<F>, F> Wire<F> for Option<T> {
    const KIND: Kind = T::KIND;

    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Some(value) => value.write(serializer),
            None => serializer.serialize_none(),
        }
    }

    fn read<'de, D: Deserializer<'de>>(
        deserializer: D,
        ctx: &mut Ctx,
    ) -> Result<Read<Self>, D::Error> {
        Ok(match T::read(deserializer, ctx)? {
            Read::Value(value) => Read::Value(Some(value)),
            Read::Absent => Read::Value(None),
            Read::Invalid => Read::Invalid,
        })
    }

    fn wire_len(&self) -> usize {
        self.as_ref().map_or(0, T::wire_len)
    }

    fn is_absent(&self) -> bool {
        self.is_none()
    }

    fn absent() -> Option<Self> {
        Some(None)
    }

    fn validate_nested(&self, ctx: &mut Ctx) {
        if let Some(value) = self {
            value.validate_nested(ctx);
        }
    }

    fn check_value(&self) -> Option<crate::ViolationKind> {
        self.as_ref().and_then(T::check_value)
    }
}

/// A `DeserializeSeed` that reads one value with [`Wire::read`].
pub struct ReadSeed<'c, T, F> {
    ctx: &'c mut Ctx,
    marker: std::marker::PhantomData<fn() -> (T, F)>,
}

impl<'c, T, F> ReadSeed<'c, T, F> {
    /// A seed recording into `ctx`.
    pub fn new(ctx: &'c mut Ctx) -> Self {
        ReadSeed {
            ctx,
            marker: std::marker::PhantomData,
        }
    }
}

impl<'de, T: Wire<F>, F> serde::de::DeserializeSeed<'de> for ReadSeed<'_, T, F> {
    type Value = Read<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Read<T>, D::Error> {
        T::read(deserializer, self.ctx)
    }
}

/// A value paired with a wire form, so that it can be handed to serde.
pub struct Written<'a, T, F>(pub &'a T, pub std::marker::PhantomData<F>);

impl<T: Wire<F>, F> serde::Serialize for Written<'_, T, F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.write(serializer)
    }
}
