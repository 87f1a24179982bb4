//! Scalars: strings, integers, decimals, money, timestamps, enum codes, JSON.

use std::borrow::Cow;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::number::{self, Integer};
use super::{Json, Number, Read, Text, Wire};
use crate::code::{CodeEnum, CodeKind, CodeRef};
use crate::ctx::Ctx;
use crate::report::{SlipKind, TimeUnit, ViolationKind};
use crate::schema::Kind;
use crate::{Money, UnixMillis, UnixSeconds};

/// Any JSON value, reduced to what a scalar field needs to know, with the
/// text of numbers exactly as received.
#[derive(Debug)]
pub(crate) enum Scalar<'de> {
    Str(Cow<'de, str>),
    /// A JSON number, as its literal text (`4.50` stays `4.50`).
    Number(Cow<'de, str>),
    Bool(bool),
    Null,
    Object,
    Array,
}

impl Scalar<'_> {
    /// How the value is described in a violation or a slip.
    pub(crate) fn describe(&self) -> String {
        match self {
            Scalar::Str(s) => format!("string {:?}", truncate(s)),
            Scalar::Number(n) => format!("number {}", truncate(n)),
            Scalar::Bool(b) => format!("boolean {b}"),
            Scalar::Null => "null".into(),
            Scalar::Object => "an object".into(),
            Scalar::Array => "an array".into(),
        }
    }

    /// Length in characters of the value's text as received, for `max_len`.
    fn received_len(&self) -> usize {
        match self {
            Scalar::Str(s) => s.chars().count(),
            Scalar::Number(n) => n.len(),
            Scalar::Bool(b) => b.to_string().len(),
            Scalar::Null | Scalar::Object | Scalar::Array => 0,
        }
    }

    fn wrong(&self, expected: &'static str) -> ViolationKind {
        ViolationKind::WrongType {
            expected,
            found: self.describe(),
        }
    }

    /// An integer as fastjson's getters read one: a JSON integer; an
    /// integral decimal or a numeric string (slips); `""` as absent.
    fn to_i64(&self, expected: &'static str) -> Result<Reading<i64>, ViolationKind> {
        let (text, from_string) = match self {
            Scalar::Number(n) => (&**n, false),
            Scalar::Str(s) if reads_as_null(s) => return Ok(Reading::Empty),
            Scalar::Str(s) => (&**s, true),
            _ => return Err(self.wrong(expected)),
        };
        match number::parse_integer(text) {
            Ok(Integer::Plain(i)) if !from_string => Ok(Reading::Exact(i)),
            Ok(Integer::Plain(i) | Integer::Integral(i)) => Ok(Reading::Slipped(i)),
            Err(_) => Err(self.wrong(expected)),
        }
    }

    /// An exact decimal from a number or a numeric string; `native_text`
    /// says which of the two the field's wire form is (the other is a slip).
    fn to_decimal(
        &self,
        expected: &'static str,
        native_text: bool,
    ) -> Result<Reading<Decimal>, ViolationKind> {
        let (text, is_text) = match self {
            Scalar::Number(n) => (&**n, false),
            Scalar::Str(s) if reads_as_null(s) => return Ok(Reading::Empty),
            Scalar::Str(s) => (&**s, true),
            _ => return Err(self.wrong(expected)),
        };
        let decimal = number::parse_decimal(text).ok_or_else(|| self.wrong(expected))?;
        Ok(if is_text == native_text {
            Reading::Exact(decimal)
        } else {
            Reading::Slipped(decimal)
        })
    }

    /// A string as the getters read one: numbers and booleans as their
    /// text, exactly as received (slips).
    fn to_text(&self, expected: &'static str) -> Result<Reading<String>, ViolationKind> {
        match self {
            Scalar::Str(s) => Ok(Reading::Exact(s.to_string())),
            Scalar::Number(n) => Ok(Reading::Slipped(n.to_string())),
            Scalar::Bool(b) => Ok(Reading::Slipped(b.to_string())),
            other => Err(other.wrong(expected)),
        }
    }
}

/// Texts that fastjson's number getters (`TypeUtils.castToLong`,
/// `castToBigDecimal`, ...) read as `null`: the empty string and the word
/// null, as Java code writes a missing value with `"" + value`.
fn reads_as_null(text: &str) -> bool {
    matches!(text, "" | "null" | "NULL")
}

/// What a lenient reading made of a value.
pub(crate) enum Reading<T> {
    /// The value, in the field's own wire form.
    Exact(T),
    /// The value, from another form the platform's readers accept.
    Slipped(T),
    /// `""` or `"null"` where a number is due: absent, as fastjson reads it.
    Empty,
}

impl<T> Reading<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Reading<U> {
        match self {
            Reading::Exact(v) => Reading::Exact(f(v)),
            Reading::Slipped(v) => Reading::Slipped(f(v)),
            Reading::Empty => Reading::Empty,
        }
    }

    fn check(self, f: impl FnOnce(&T) -> Result<(), ViolationKind>) -> Result<Self, ViolationKind> {
        match &self {
            Reading::Exact(v) | Reading::Slipped(v) => f(v)?,
            Reading::Empty => {}
        }
        Ok(self)
    }
}

fn truncate(s: &str) -> Cow<'_, str> {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        Some((cut, _)) => Cow::Owned(format!("{}...", &s[..cut])),
        None => Cow::Borrowed(s),
    }
}

/// The name under which serde_json hands a value over as its raw text (what
/// `serde_json::value::RawValue` asks for). Asking for it is how a number's
/// digits reach us as written; a deserializer that does not know the name
/// hands the value over as usual, and numbers then arrive as `i64`/`u64`/
/// `f64` (the `number_text_is_exact` test guards the fast path).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

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
        Ok(Scalar::Number(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
        if v.is_finite() {
            Ok(Scalar::Number(Cow::Owned(v.to_string())))
        } else {
            Err(E::custom(format!("{v} is not a JSON number")))
        }
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
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        let first = map.next_key_seed(CowStrSeed)?;
        if first.as_deref() == Some(RAW_VALUE_TOKEN) {
            let raw = map.next_value_seed(CowStrSeed)?;
            return from_raw(raw);
        }
        if first.is_some() {
            map.next_value::<IgnoredAny>()?;
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        }
        Ok(Scalar::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
}

/// A value's raw JSON text, already validated by serde_json, as a scalar.
fn from_raw<'de, E: serde::de::Error>(raw: Cow<'de, str>) -> Result<Scalar<'de>, E> {
    Ok(match raw.as_bytes().first() {
        Some(b'"') => Scalar::Str(unquote(raw)?),
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        Some(b'n') => Scalar::Null,
        Some(b'{') => Scalar::Object,
        Some(b'[') => Scalar::Array,
        _ => Scalar::Number(raw),
    })
}

/// The content of a JSON string's raw text, borrowed when it has no escapes.
fn unquote<'de, E: serde::de::Error>(raw: Cow<'de, str>) -> Result<Cow<'de, str>, E> {
    if raw.len() >= 2 && !raw.contains('\\') {
        return Ok(match raw {
            Cow::Borrowed(text) => Cow::Borrowed(&text[1..text.len() - 1]),
            Cow::Owned(text) => Cow::Owned(text[1..text.len() - 1].to_owned()),
        });
    }
    serde_json::from_str::<String>(&raw)
        .map(Cow::Owned)
        .map_err(E::custom)
}

/// Reads a string, borrowed from the input when it can be.
pub(crate) struct CowStrSeed;

impl<'de> serde::de::DeserializeSeed<'de> for CowStrSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        struct CowStrVisitor;
        impl<'de> Visitor<'de> for CowStrVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(CowStrVisitor)
    }
}

/// Reads any JSON value as a [`Scalar`], consuming objects and arrays.
pub(crate) fn read_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
    d.deserialize_newtype_struct(RAW_VALUE_TOKEN, ScalarVisitor)
}

/// Reads a scalar and converts it as the platform's readers would,
/// recording a violation when it does not fit and a slip when it fits only
/// leniently.
fn read_with<'de, D, T>(
    d: D,
    ctx: &mut Ctx,
    expected: &'static str,
    convert: impl FnOnce(&Scalar<'de>) -> Result<Reading<T>, ViolationKind>,
) -> Result<Read<T>, D::Error>
where
    D: Deserializer<'de>,
{
    let scalar = read_scalar(d)?;
    if let Scalar::Null = scalar {
        ctx.slip(scalar.describe(), SlipKind::Absent);
        return Ok(Read::Absent);
    }
    ctx.set_received_len(scalar.received_len());
    Ok(match convert(&scalar) {
        Ok(Reading::Exact(value)) => Read::Value(value),
        Ok(Reading::Slipped(value)) => {
            ctx.slip(scalar.describe(), SlipKind::Converted(expected));
            Read::Value(value)
        }
        Ok(Reading::Empty) => {
            ctx.slip(scalar.describe(), SlipKind::Absent);
            Read::Absent
        }
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

/// Writes a decimal as a JSON number with exactly its digits (`4.50` stays
/// `4.50`): whole values as integers, others as raw number text, never
/// through `f64`.
fn write_decimal_number<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    use rust_decimal::prelude::ToPrimitive;
    if d.scale() == 0 {
        if let Some(i) = d.to_i64() {
            return s.serialize_i64(i);
        }
    }
    let raw = serde_json::value::RawValue::from_string(d.to_string())
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

impl Wire<Text> for String {
    const KIND: Kind = Kind::Text;

    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }

    fn read<'de, D: Deserializer<'de>>(d: D, ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        read_with(d, ctx, "a string", |scalar| scalar.to_text("a string"))
    }

    fn wire_len(&self) -> usize {
        self.chars().count()
    }
}

/// Timestamps in a field of the other unit: a seconds field holds values
/// below 10^10 (until the year 2286), a milliseconds field values of 10^11
/// and more (after 1973); `0` is left alone in both, as "not set".
fn check_unit(value: i64, unit: TimeUnit) -> Result<(), ViolationKind> {
    let wrong = match unit {
        TimeUnit::Seconds => value >= 10_000_000_000,
        TimeUnit::Millis => value > 0 && value < 100_000_000_000,
    };
    if wrong {
        Err(ViolationKind::WrongTimeUnit {
            value,
            expected: unit,
        })
    } else {
        Ok(())
    }
}

macro_rules! integer_wire {
    ($ty:ty, $kind:expr, $expected:literal, $get:expr, $make:expr, $check:expr) => {
        impl Wire<Number> for $ty {
            const KIND: Kind = $kind;

            fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64($get(self))
            }

            fn read<'de, D: Deserializer<'de>>(
                d: D,
                ctx: &mut Ctx,
            ) -> Result<Read<Self>, D::Error> {
                read_with(d, ctx, $expected, |scalar| {
                    let reading = scalar.to_i64($expected)?.check(|v| $check(*v))?;
                    Ok(reading.map($make))
                })
            }

            fn wire_len(&self) -> usize {
                int_len($get(self))
            }

            fn check_value(&self) -> Option<ViolationKind> {
                $check($get(self)).err()
            }
        }
    };
}

integer_wire!(
    i64,
    Kind::Integer,
    "an integer",
    |v: &i64| *v,
    |v| v,
    |_: i64| Ok(())
);
integer_wire!(
    UnixSeconds,
    Kind::UnixSeconds,
    "unix seconds",
    |v: &UnixSeconds| v.0,
    UnixSeconds,
    |v| check_unit(v, TimeUnit::Seconds)
);
integer_wire!(
    UnixMillis,
    Kind::UnixMillis,
    "unix milliseconds",
    |v: &UnixMillis| v.0,
    UnixMillis,
    |v| check_unit(v, TimeUnit::Millis)
);

impl Wire<Number> for Decimal {
    const KIND: Kind = Kind::Decimal;

    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        write_decimal_number(self, s)
    }

    fn read<'de, D: Deserializer<'de>>(d: D, ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        read_with(d, ctx, "a decimal number", |scalar| {
            scalar.to_decimal("a decimal number", false)
        })
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
        read_with(d, ctx, "an amount of money", |scalar| {
            Ok(scalar
                .to_decimal("an amount of money", true)?
                .map(Money::from_decimal))
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
        read_with(d, ctx, "an amount of money", |scalar| {
            Ok(scalar
                .to_decimal("an amount of money", false)?
                .map(Money::from_decimal))
        })
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

    fn read<'de, D: Deserializer<'de>>(d: D, ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        // Read as raw text first, so that max_len counts what was received.
        let raw = d.deserialize_newtype_struct(RAW_VALUE_TOKEN, RawTextVisitor)?;
        let value = match raw {
            RawText::Text(text) => {
                ctx.set_received_len(text.chars().count());
                serde_json::from_str(&text).map_err(serde::de::Error::custom)?
            }
            RawText::Value(value) => value,
        };
        Ok(match value {
            serde_json::Value::Null => {
                ctx.slip("null".into(), SlipKind::Absent);
                Read::Absent
            }
            value => Read::Value(value),
        })
    }

    fn wire_len(&self) -> usize {
        // Only JSON fields with a max_len pay for this; none is on a hot path.
        serde_json::to_string(self).map_or(0, |text| text.chars().count())
    }
}

/// Reads any value as its JSON text as received (re-serialised only from a
/// deserializer that does not hand raw text over).
pub(crate) fn read_raw_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(
        match d.deserialize_newtype_struct(RAW_VALUE_TOKEN, RawTextVisitor)? {
            RawText::Text(text) => text.into_owned(),
            RawText::Value(value) => value.to_string(),
        },
    )
}

/// A `json` field's value: its raw text (serde_json), or the value itself
/// from a deserializer that does not hand raw text over.
enum RawText<'de> {
    Text(Cow<'de, str>),
    Value(serde_json::Value),
}

struct RawTextVisitor;

impl<'de> Visitor<'de> for RawTextVisitor {
    type Value = RawText<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<RawText<'de>, D::Error> {
        serde_json::Value::deserialize(d).map(RawText::Value)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawText<'de>, A::Error> {
        let first = map.next_key_seed(CowStrSeed)?;
        if first.as_deref() == Some(RAW_VALUE_TOKEN) {
            return map.next_value_seed(CowStrSeed).map(RawText::Text);
        }
        // A deserializer that treats the name as transparent: an ordinary object.
        let mut object = serde_json::Map::new();
        if let Some(key) = first {
            object.insert(key.into_owned(), map.next_value()?);
            while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                object.insert(key, value);
            }
        }
        Ok(RawText::Value(serde_json::Value::Object(object)))
    }

    fn visit_bool<E>(self, v: bool) -> Result<RawText<'de>, E> {
        Ok(RawText::Value(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawText<'de>, E> {
        Ok(RawText::Value(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawText<'de>, E> {
        Ok(RawText::Value(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawText<'de>, E> {
        Ok(RawText::Value(v.into()))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawText<'de>, E> {
        Ok(RawText::Value(v.into()))
    }
    fn visit_unit<E>(self) -> Result<RawText<'de>, E> {
        Ok(RawText::Value(serde_json::Value::Null))
    }
    fn visit_none<E>(self) -> Result<RawText<'de>, E> {
        Ok(RawText::Value(serde_json::Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawText<'de>, D::Error> {
        serde_json::Value::deserialize(d).map(RawText::Value)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawText<'de>, A::Error> {
        serde_json::Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
            .map(RawText::Value)
    }
}

/// Reads an enum code leniently: numeric codes as integer fields are read
/// (see the accepted forms in `protocol-spec/README.md`), text codes from
/// strings or from numbers (their digits as received). A code in the other JSON form than the field's
/// (`as_text`: the table writes codes as strings) is a slip. Used by
/// `#[derive(CodeEnum)]`.
pub fn read_code<'de, E: CodeEnum, D: Deserializer<'de>>(
    d: D,
    ctx: &mut Ctx,
    as_text: bool,
) -> Result<Read<E>, D::Error> {
    let expected = match E::KIND {
        CodeKind::Integer => "a numeric code",
        CodeKind::String => "a text code",
    };
    read_with(d, ctx, expected, |scalar| {
        // In the field's own JSON form, unless the value itself needed a
        // lenient reading (`1.0` for the code 1).
        let in_form = match scalar {
            Scalar::Str(_) => as_text,
            Scalar::Number(_) => !as_text,
            _ => false,
        };
        let (code, exact) = match E::KIND {
            CodeKind::Integer => {
                let text = match scalar {
                    Scalar::Str(s) if reads_as_null(s) => return Ok(Reading::Empty),
                    Scalar::Str(s) | Scalar::Number(s) => &**s,
                    other => return Err(other.wrong(expected)),
                };
                match number::parse_integer(text) {
                    Ok(Integer::Plain(i)) => (E::from_code(CodeRef::Int(i)), in_form),
                    Ok(Integer::Integral(i)) => (E::from_code(CodeRef::Int(i)), false),
                    Err(_) => return Err(scalar.wrong(expected)),
                }
            }
            CodeKind::String => {
                let text = match scalar.to_text(expected)? {
                    Reading::Exact(text) | Reading::Slipped(text) => text,
                    Reading::Empty => return Ok(Reading::Empty),
                };
                (E::from_code(CodeRef::Str(&text)), in_form)
            }
        };
        match code {
            Some(code) if exact => Ok(Reading::Exact(code)),
            Some(code) => Ok(Reading::Slipped(code)),
            None => Err(ViolationKind::UnknownCode {
                code: scalar.describe(),
            }),
        }
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
}
