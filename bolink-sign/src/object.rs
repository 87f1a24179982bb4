//! Reads the top level of an envelope: the one place that turns bytes into
//! fields, shared by both envelope kinds so they reject bad input the same way.
//!
//! A hand-written map visitor is used instead of `#[derive(Deserialize)]`
//! because derive reports missing, duplicate and mistyped fields only as
//! message text inside a `serde_json::Error`; here every such case becomes a
//! typed [`EnvelopeError`], and values are kept as borrowed [`RawValue`]s so
//! that `data` keeps the exact bytes that were signed.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::EnvelopeError;

/// The top-level fields either envelope may carry, each as raw JSON.
#[derive(Default)]
pub(crate) struct TopLevel<'a> {
    pub(crate) service_name: Option<&'a RawValue>,
    pub(crate) sign: Option<&'a RawValue>,
    pub(crate) token: Option<&'a RawValue>,
    pub(crate) data: Option<&'a RawValue>,
    pub(crate) union_id: Option<&'a RawValue>,
    /// Every other key, in order, with its value as received.
    pub(crate) extra: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// Parses `json` as one JSON object and collects its known top-level fields.
pub(crate) fn parse(json: &[u8]) -> Result<TopLevel<'_>, EnvelopeError> {
    // Checking UTF-8 up front (rather than per string) means no part of an
    // envelope, not even an ignored field, can carry invalid text.
    let text = std::str::from_utf8(json).map_err(|e| utf8_error(json, e.valid_up_to()))?;
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r']);
    if trimmed.is_empty() {
        return Err(EnvelopeError::Empty);
    }
    if !trimmed.starts_with('{') {
        // Tell "valid JSON of the wrong kind" apart from "not JSON at all".
        return match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => Err(EnvelopeError::NotAnObject),
            Err(e) => Err(EnvelopeError::from_json(&e)),
        };
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let collected = Collected::deserialize(&mut de).map_err(|e| EnvelopeError::from_json(&e))?;
    de.end().map_err(|e| EnvelopeError::from_json(&e))?;
    match collected.duplicate {
        Some(name) => Err(EnvelopeError::DuplicateField(name)),
        None => Ok(collected.fields),
    }
}

/// A required field that must be a JSON string, borrowed when it has no
/// escapes.
pub(crate) fn required_str<'a>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> Result<Cow<'a, str>, EnvelopeError> {
    let raw = raw.ok_or(EnvelopeError::MissingField(field))?;
    as_str(raw, field)
}

/// An optional string field; JSON `null` counts as absent because some
/// senders write `"token": null` instead of leaving the key out.
pub(crate) fn optional_str<'a>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, EnvelopeError> {
    match raw {
        Some(raw) if raw.get() != "null" => as_str(raw, field).map(Some),
        _ => Ok(None),
    }
}

/// The `data` field, which must be present and a JSON object.
pub(crate) fn required_data(raw: Option<&RawValue>) -> Result<&RawValue, EnvelopeError> {
    let raw = raw.ok_or(EnvelopeError::MissingField("data"))?;
    // RawValue spans exactly the value (no surrounding whitespace), so its
    // first byte tells the JSON type.
    if raw.get().starts_with('{') {
        Ok(raw)
    } else {
        Err(EnvelopeError::DataNotObject)
    }
}

fn as_str<'a>(raw: &'a RawValue, field: &'static str) -> Result<Cow<'a, str>, EnvelopeError> {
    let wrong_type = EnvelopeError::WrongType {
        field,
        expected: "string",
    };
    let text = raw.get();
    if !text.starts_with('"') {
        return Err(wrong_type);
    }
    // Fast path: a validated JSON string without escapes is its own content
    // between the quotes (raw control characters are not valid JSON).
    if text.len() >= 2 && !text.contains('\\') {
        return Ok(Cow::Borrowed(&text[1..text.len() - 1]));
    }
    // The raw text was already validated as a JSON string, so this cannot
    // fail; map an error to the same typed one rather than panicking.
    serde_json::from_str::<CowStr<'a>>(raw.get())
        .map(|s| s.0)
        .map_err(|_| wrong_type)
}

/// Position of the first invalid UTF-8 byte, in serde_json's convention.
fn utf8_error(json: &[u8], valid_up_to: usize) -> EnvelopeError {
    let prefix = &json[..valid_up_to];
    let line = 1 + prefix.iter().filter(|&&b| b == b'\n').count();
    let line_start = prefix
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    EnvelopeError::Json {
        line,
        column: valid_up_to - line_start + 1,
        message: "invalid UTF-8".to_owned(),
    }
}

/// A string that borrows from the input when serde_json allows it (no
/// escapes). `Cow<str>`'s own `Deserialize` always allocates.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// What the map visitor gathered. A duplicate key is recorded rather than
/// raised at once so that the error stays typed (errors raised inside a
/// visitor can only be `serde_json::Error`).
struct Collected<'a> {
    fields: TopLevel<'a>,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for Collected<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CollectVisitor)
    }
}

struct CollectVisitor;

impl<'de> Visitor<'de> for CollectVisitor {
    type Value = Collected<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = TopLevel::default();
        let mut duplicate = None;
        // Unknown keys are remembered too: a repeated unknown key is just as
        // ambiguous to other readers. A known key is a duplicate when its
        // slot is already filled, so the usual envelope allocates nothing here.
        let mut unknown_seen: BTreeSet<Cow<'de, str>> = BTreeSet::new();
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            let slot = match key.as_ref() {
                "service_name" => Some(&mut fields.service_name),
                "sign" => Some(&mut fields.sign),
                "token" => Some(&mut fields.token),
                "data" => Some(&mut fields.data),
                "union_id" => Some(&mut fields.union_id),
                _ => None,
            };
            let repeated = match slot {
                Some(slot) => slot.replace(map.next_value::<&'de RawValue>()?).is_some(),
                None => {
                    let value = map.next_value::<&'de RawValue>()?;
                    let repeated = !unknown_seen.insert(key.clone());
                    if !repeated {
                        fields.extra.push((key.clone(), value));
                    }
                    repeated
                }
            };
            if repeated && duplicate.is_none() {
                duplicate = Some(key.into_owned());
            }
        }
        Ok(Collected { fields, duplicate })
    }
}
