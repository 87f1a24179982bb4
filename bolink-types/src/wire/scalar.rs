//! Scalars: strings, integers, decimals, money, timestamps, enum codes, JSON.

use std::borrow::Cow;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Json, Number, Read, Text, Wire};
use crate::code::{CodeEnum, CodeKind, CodeRef};
use crate::ctx::Ctx;
use crate::report::ViolationKind;
use crate::schema::Kind;
use crate::{Money, UnixMillis, UnixSeconds};

/// Any JSON value, reduced to what a scalar field needs to know.
#[derive(Debug)]
pub(crate) enum Scalar<'de> {
    Str(Cow<'de, str>),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Null,
    Object,
    Array,
}

impl Scalar<'_> {
    /// How the value is described in a violation.
    fn describe(&self) -> String {
        match self {
            Scalar::Str(s) => format!("string {:?}", truncate(s)),
            Scalar::Int(i) => format!("number {i}"),
            Scalar::Uint(u) => format!("number {u}"),
            Scalar::Float(f) => format!("number {f}"),
            Scalar::Bool(b) => format!("boolean {b}"),
            Scalar::Null => "null".into(),
            Scalar::Object => "an object".into(),
            Scalar::Array => "an array".into(),
        }
    }

    fn wrong(&self, expected: &'static str) -> ViolationKind {
        ViolationKind::WrongType {
            expected,
            found: self.describe(),
        }
    }

    /// Lenient integer: numbers, whole floats and numeric strings.
    fn to_i64(&self, expected: &'static str) -> Result<i64, ViolationKind> {
        match self {
            Scalar::Int(i) => Ok(*i),
            Scalar::Uint(u) => i64::try_from(*u).map_err(|_| self.wrong(expected)),
            Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
            Scalar::Str(s) => s.parse().map_err(|_| self.wrong(expected)),
            _ => Err(self.wrong(expected)),
        }
    }

    /// Lenient decimal: numbers and numeric strings.
    fn to_decimal(&self, expected: &'static str) -> Result<Decimal, ViolationKind> {
        let money = match self {
            Scalar::Int(i) => return Ok(Decimal::from(*i)),
            Scalar::Uint(u) => return Ok(Decimal::from(*u)),
            Scalar::Float(f) => Money::from_json_f64(*f),
            Scalar::Str(s) => s.parse::<Money>(),
            _ => return Err(self.wrong(expected)),
        };
        money
            .map(Money::to_decimal)
            .map_err(|_| self.wrong(expected))
    }
}

fn truncate(s: &str) -> Cow<'_, str> {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        Some((cut, _)) => Cow::Owned(format!("{}...", &s[..cut])),
        None => Cow::Borrowed(s),
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Uint(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
}

/// Reads any JSON value as a [`Scalar`], consuming objects and arrays.
pub(crate) fn read_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

/// Reads a scalar and converts it, recording a violation when it does not fit.
fn read_with<'de, D, T>(
    d: D,
    ctx: &mut Ctx,
    convert: impl FnOnce(&Scalar<'de>) -> Result<T, ViolationKind>,
) -> Result<Read<T>, D::Error>
where
    D: Deserializer<'de>,
{
    let scalar = read_scalar(d)?;
    if let Scalar::Null = scalar {
        return Ok(Read::Absent);
    }
    Ok(match convert(&scalar) {
        Ok(value) => Read::Value(value),
        Err(kind) => {
            ctx.report(kind);
            Read::Invalid
        }
    })
}

/// Number of characters in the decimal text of an integer.
fn int_len(i: i64) -> usize {
    let digits = i
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    digits + usize::from(i < 0)
}

/// Number of characters of a decimal's text, without formatting it.
fn decimal_len(d: &Decimal) -> usize {
    let scale = d.scale() as usize;
    let mantissa = d.mantissa().unsigned_abs();
    let digits = mantissa.checked_ilog10().map_or(1, |x| x as usize + 1);
    let digits = digits.max(scale + 1);
    digits + usize::from(scale > 0) + usize::from(d.is_sign_negative() && !d.is_zero())
}

/// Writes a decimal as a JSON number: whole values as integers, others as the
/// shortest `f64` that prints the same digits.
fn write_decimal_number<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    use rust_decimal::prelude::ToPrimitive;
    if d.scale() == 0 {
        if let Some(i) = d.to_i64() {
            return s.serialize_i64(i);
        }
    }
    match d.to_f64() {
        Some(f) => s.serialize_f64(f),
        None => s.collect_str(d),
    }
}

impl Wire<Text> for String {
    const KIND: Kind = Kind::Text;

    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }

    fn read<'de, D: Deserializer<'de>>(d: D, ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        read_with(d, ctx, |scalar| match scalar {
            Scalar::Str(s) => Ok(s.to_string()),
            Scalar::Int(i) => Ok(i.to_string()),
            Scalar::Uint(u) => Ok(u.to_string()),
            Scalar::Float(f) => Ok(f.to_string()),
            other => Err(other.wrong("a string")),
        })
    }

    fn wire_len(&self) -> usize {
        self.chars().count()
    }
}

macro_rules! integer_wire {
    ($ty:ty, $kind:expr, $expected:literal, $get:expr, $make:expr) => {
        impl Wire<Number> for $ty {
            const KIND: Kind = $kind;

            fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64($get(self))
            }

            fn read<'de, D: Deserializer<'de>>(
                d: D,
                ctx: &mut Ctx,
            ) -> Result<Read<Self>, D::Error> {
                read_with(d, ctx, |scalar| scalar.to_i64($expected).map($make))
            }

            fn wire_len(&self) -> usize {
                int_len($get(self))
            }
        }
    };
}

integer_wire!(i64, Kind::Integer, "an integer", |v: &i64| *v, |v| v);
integer_wire!(
    UnixSeconds,
    Kind::UnixSeconds,
    "unix seconds",
    |v: &UnixSeconds| v.0,
    UnixSeconds
);
integer_wire!(
    UnixMillis,
    Kind::UnixMillis,
    "unix milliseconds",
    |v: &UnixMillis| v.0,
    UnixMillis
);

impl Wire<Number> for Decimal {
    const KIND: Kind = Kind::Decimal;

    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        write_decimal_number(self, s)
    }

    fn read<'de, D: Deserializer<'de>>(d: D, ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        read_with(d, ctx, |scalar| scalar.to_decimal("a decimal number"))
    }

    fn wire_len(&self) -> usize {
        decimal_len(self)
    }
}

impl Wire<Text> for Money {
    const KIND: Kind = Kind::MoneyText;

    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.to_decimal())
    }

    fn read<'de, D: Deserializer<'de>>(d: D, ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        read_with(d, ctx, |scalar| {
            scalar
                .to_decimal("an amount of money")
                .map(Money::from_decimal)
        })
    }

    fn wire_len(&self) -> usize {
        decimal_len(&self.to_decimal())
    }
}

impl Wire<Number> for Money {
    const KIND: Kind = Kind::MoneyNumber;

    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        write_decimal_number(&self.to_decimal(), s)
    }

    fn read<'de, D: Deserializer<'de>>(d: D, ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        <Money as Wire<Text>>::read(d, ctx)
    }

    fn wire_len(&self) -> usize {
        decimal_len(&self.to_decimal())
    }
}

impl Wire<Json> for serde_json::Value {
    const KIND: Kind = Kind::Json;

    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }

    fn read<'de, D: Deserializer<'de>>(d: D, _ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Read::Absent,
            value => Read::Value(value),
        })
    }

    fn wire_len(&self) -> usize {
        // Only JSON fields with a max_len pay for this; none is on a hot path.
        serde_json::to_string(self).map_or(0, |text| text.chars().count())
    }
}

/// Reads an enum code leniently: numeric codes from numbers or numeric
/// strings, text codes from strings or numbers. Used by `#[derive(CodeEnum)]`.
pub fn read_code<'de, E: CodeEnum, D: Deserializer<'de>>(
    d: D,
    ctx: &mut Ctx,
) -> Result<Read<E>, D::Error> {
    read_with(d, ctx, |scalar| {
        let decoded = match E::KIND {
            CodeKind::Integer => E::from_code(CodeRef::Int(scalar.to_i64("a numeric code")?)),
            CodeKind::String => match scalar {
                Scalar::Str(s) => E::from_code(CodeRef::Str(s)),
                Scalar::Int(_) | Scalar::Uint(_) | Scalar::Float(_) => {
                    let text = match scalar {
                        Scalar::Int(i) => i.to_string(),
                        Scalar::Uint(u) => u.to_string(),
                        Scalar::Float(f) => f.to_string(),
                        _ => String::new(),
                    };
                    E::from_code(CodeRef::Str(&text))
                }
                other => return Err(other.wrong("a text code")),
            },
        };
        decoded.ok_or_else(|| ViolationKind::UnknownCode {
            code: scalar.describe(),
        })
    })
}

/// Writes an enum's code as a JSON number (text codes that are not numbers
/// stay strings, so nothing is lost).
pub fn write_code_number<E: CodeEnum, S: Serializer>(value: &E, s: S) -> Result<S::Ok, S::Error> {
    match value.code() {
        CodeRef::Int(i) => s.serialize_i64(i),
        CodeRef::Str(text) => match text.parse::<i64>() {
            Ok(i) => s.serialize_i64(i),
            Err(_) => s.serialize_str(text),
        },
    }
}

/// Writes an enum's code as a JSON string.
pub fn write_code_text<E: CodeEnum, S: Serializer>(value: &E, s: S) -> Result<S::Ok, S::Error> {
    match value.code() {
        CodeRef::Int(i) => s.collect_str(&i),
        CodeRef::Str(text) => s.serialize_str(text),
    }
}

/// Length of an enum code's wire text.
pub fn code_len<E: CodeEnum>(value: &E) -> usize {
    match value.code() {
        CodeRef::Int(i) => int_len(i),
        CodeRef::Str(text) => text.chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_wire_characters() {
        assert_eq!(int_len(0), 1);
        assert_eq!(int_len(-15), 3);
        assert_eq!(int_len(1490875218), 10);
        for text in ["0", "4.0", "0.04", "-2.50", "123456.789", "0.00"] {
            let d: Decimal = text.parse().unwrap();
            assert_eq!(decimal_len(&d), text.len(), "{text}");
        }
    }

    #[test]
    fn float_money_keeps_the_written_digits() {
        for (f, text) in [(0.04, "0.04"), (1.25, "1.25"), (0.1, "0.1"), (4.0, "4")] {
            assert_eq!(Money::from_json_f64(f).unwrap().to_string(), text);
        }
    }
}
