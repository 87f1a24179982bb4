//! Values that satisfy every rule of a schema, generated field by field
//! from the schema's kinds, lengths and rules.

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::schema::{Kind, ObjectSchema, Presence, Rule};
use crate::{CodeKind, CodeRef};

/// Characters that exercise character counting: ASCII, 3-byte CJK and a
/// 4-byte character outside the BMP.
const ALPHABET: &[char] = &['A', '7', '_', '-', '京', '地', '层', '𠀀', ' '];

/// Longest text generated for one field: longer values only slow the tests.
const MAX_TEXT: usize = 12;

fn text(max: Option<usize>) -> BoxedStrategy<Value> {
    let max = max.unwrap_or(MAX_TEXT).min(MAX_TEXT);
    prop::collection::vec(prop::sample::select(ALPHABET), 0..=max)
        .prop_map(|chars| Value::String(chars.into_iter().collect()))
        .boxed()
}

/// A bound on the number of digits of a number that fits `max_len` characters.
fn digits(max: Option<usize>, reserve: usize) -> u32 {
    let max = max.unwrap_or(12).min(12);
    max.saturating_sub(reserve).max(1) as u32
}

fn integer(max: Option<usize>) -> BoxedStrategy<Value> {
    let limit = 10i64.pow(digits(max, 0));
    (0..limit).prop_map(Value::from).boxed()
}

/// Money or decimal with two decimals: `digits` counts the whole text.
fn decimal(max: Option<usize>, as_text: bool) -> BoxedStrategy<Value> {
    // Fields too short for "d.dd" (a 1-character money code) take whole numbers.
    if max.is_some_and(|m| m < 4) {
        return integer(max);
    }
    let whole = digits(max, 3);
    let limit = 10i64.pow(whole) * 100;
    (0..limit)
        .prop_map(move |cents| {
            let text = format!("{}.{:02}", cents / 100, cents % 100);
            if as_text {
                Value::String(text)
            } else {
                // Numbers travel as f64; the shortest text of the f64 is the text.
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        })
        .boxed()
}

fn code_value(code: CodeRef<'_>, as_text: bool) -> Value {
    match (code, as_text) {
        (CodeRef::Int(i), false) => Value::from(i),
        (CodeRef::Int(i), true) => Value::String(i.to_string()),
        (CodeRef::Str(s), _) => Value::String(s.to_string()),
    }
}

fn enum_value(kind: Kind, max: Option<usize>) -> BoxedStrategy<Value> {
    let Kind::Enum { schema, as_text } = kind else {
        return Just(Value::Null).boxed();
    };
    let schema = schema();
    let fits = |v: &Value| max.is_none_or(|m| wire_text(v).chars().count() <= m);
    let mut known: Vec<Value> = schema
        .variants
        .iter()
        .map(|v| code_value(v.code, as_text))
        .filter(fits)
        .collect();
    if schema.open {
        // An unknown code that fits the field: it must round-trip unchanged.
        let unknown = match schema.kind {
            // Try high one-digit codes first so that short fields get one too.
            CodeKind::Integer => (0..=9i64)
                .rev()
                .chain(10..1000)
                .map(|i| code_value(CodeRef::Int(i), as_text))
                .find(|v| {
                    fits(v)
                        && !schema
                            .variants
                            .iter()
                            .any(|k| code_value(k.code, as_text) == *v)
                }),
            CodeKind::String => Some(Value::String("zz".into())).filter(fits),
        };
        known.extend(unknown);
    }
    if known.is_empty() {
        return Just(Value::Null).boxed();
    }
    prop::sample::select(known).boxed()
}

/// The text a value has on the wire (strings without quotes).
fn wire_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json(max: Option<usize>) -> BoxedStrategy<Value> {
    let room = max.unwrap_or(40).saturating_sub(8).clamp(1, 10);
    prop::collection::vec(prop::sample::select(&['a', 'b', '京'][..]), 1..=room)
        .prop_map(|chars| serde_json::json!({ "k": chars.into_iter().collect::<String>() }))
        .boxed()
}

/// A value for one field kind.
pub(super) fn field_value(kind: Kind, max: Option<usize>, depth: u32) -> BoxedStrategy<Value> {
    match kind {
        Kind::Text => text(max),
        Kind::Integer => integer(max),
        Kind::UnixSeconds => (1_000_000_000i64..2_000_000_000)
            .prop_map(Value::from)
            .boxed(),
        Kind::UnixMillis => (1_000_000_000_000i64..2_000_000_000_000)
            .prop_map(Value::from)
            .boxed(),
        Kind::Decimal | Kind::MoneyNumber => decimal(max, false),
        Kind::MoneyText => decimal(max, true),
        Kind::Enum { .. } => enum_value(kind, max),
        Kind::Json => json(max),
        Kind::Object(schema) => valid_object(schema(), depth + 1)
            .prop_map(Value::Object)
            .boxed(),
        Kind::Array(schema) => prop::collection::vec(
            valid_object(schema(), depth + 1).prop_map(Value::Object),
            0..3,
        )
        .prop_map(Value::Array)
        .boxed(),
    }
}

/// A JSON object that satisfies every rule of `schema`.
pub(super) fn valid_object(
    schema: &'static ObjectSchema,
    depth: u32,
) -> BoxedStrategy<Map<String, Value>> {
    let values: Vec<BoxedStrategy<Value>> = schema
        .fields
        .iter()
        .map(|f| field_value(f.kind, f.max_len, depth))
        .collect();
    let presence = prop::collection::vec(any::<bool>(), schema.fields.len());
    let service_name = any::<bool>();
    (values, presence, service_name)
        .prop_map(move |(values, mut present, with_service)| {
            for (i, f) in schema.fields.iter().enumerate() {
                // Deep optional objects are left out half the time anyway;
                // cap the depth so that recursion stays small.
                if depth > 3 && !f.rule.is_always() {
                    present[i] = false;
                }
                if f.rule.is_always() {
                    present[i] = true;
                }
            }
            satisfy_rules(schema, &values, &mut present);
            let mut map = Map::new();
            let service = schema
                .service_name
                .filter(|_| match schema.service_name_presence {
                    Presence::Required => true,
                    Presence::Optional => with_service,
                    Presence::Absent => false,
                });
            if let Some(service) = service {
                map.insert("service_name".into(), Value::String(service.into()));
            }
            for c in schema.constants {
                map.insert(c.name.into(), Value::String(c.value.into()));
            }
            for (i, f) in schema.fields.iter().enumerate() {
                if present[i] && !values[i].is_null() {
                    map.insert(f.name.into(), values[i].clone());
                }
            }
            map
        })
        .boxed()
}

/// Whether the value of a field matches one of a rule's codes.
fn matches_codes(value: &Value, codes: &[CodeRef<'static>]) -> bool {
    codes.iter().any(|code| match (code, value) {
        (CodeRef::Int(i), Value::Number(n)) => n.as_i64() == Some(*i),
        (CodeRef::Int(i), Value::String(s)) => s.parse::<i64>().ok() == Some(*i),
        (CodeRef::Str(c), Value::String(s)) => c == s,
        _ => false,
    })
}

/// Turns fields on until every required-when, together and at-least-one rule holds.
fn satisfy_rules(schema: &ObjectSchema, values: &[Value], present: &mut [bool]) {
    let index = |name: &str| schema.fields.iter().position(|f| f.name == name);
    // Rules can enable each other; a few passes reach the fixed point.
    for _ in 0..4 {
        for (i, f) in schema.fields.iter().enumerate() {
            let triggered = match f.rule {
                Rule::When {
                    field,
                    codes,
                    negated,
                } => index(field).is_some_and(|t| {
                    present[t]
                        && !values[t].is_null()
                        && matches_codes(&values[t], codes) != negated
                }),
                Rule::WhenPresent(fields) => {
                    fields.iter().all(|n| index(n).is_some_and(|t| present[t]))
                }
                _ => false,
            };
            if triggered {
                present[i] = true;
            }
        }
        for group in schema.together {
            if group.iter().any(|n| index(n).is_some_and(|t| present[t])) {
                for n in group.iter() {
                    if let Some(t) = index(n) {
                        present[t] = true;
                    }
                }
            }
        }
        for group in schema.at_least_one {
            if !group.iter().any(|n| index(n).is_some_and(|t| present[t])) {
                if let Some(t) = group.first().and_then(|n| index(n)) {
                    present[t] = true;
                }
            }
        }
    }
}
