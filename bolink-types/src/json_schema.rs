//! JSON Schema (draft 2020-12) of a message, built from its static schema:
//! for tools in other languages that validate or generate Bolink messages.
//!
//! The schema describes what this crate *sends*: exact wire types, maximum
//! lengths as `maxLength` on texts, always-required fields and fixed values.
//! Rules that depend on other fields (`required when pay_scene is 0 or 2`)
//! become `if`/`then` clauses; conditions outside the message are left out.

use serde_json::{json, Map, Value};

use crate::code::CodeRef;
use crate::schema::{Kind, ObjectSchema, Presence, Rule};

/// The JSON Schema of `schema`, with its nested objects inlined.
pub fn json_schema(schema: &ObjectSchema, title: &str) -> Value {
    let mut root = object(schema);
    if let Value::Object(map) = &mut root {
        map.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        map.insert("title".into(), title.into());
    }
    root
}

fn object(schema: &ObjectSchema) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    if let Some(service) = schema.service_name {
        if schema.service_name_presence != Presence::Absent {
            properties.insert("service_name".into(), json!({ "const": service }));
        }
        if schema.service_name_presence == Presence::Required {
            required.push(Value::from("service_name"));
        }
    }
    for constant in schema.constants {
        properties.insert(constant.name.into(), json!({ "const": constant.value }));
        if constant.presence == Presence::Required {
            required.push(constant.name.into());
        }
    }
    let mut conditions = Vec::new();
    for field in schema.fields {
        let mut property = kind(field.kind);
        if let (Some(max), Value::Object(map)) = (field.max_len, &mut property) {
            if map.get("type") == Some(&Value::from("string")) {
                map.insert("maxLength".into(), max.into());
            }
        }
        properties.insert(field.name.into(), property);
        match field.rule {
            Rule::Always => required.push(field.name.into()),
            Rule::When {
                field: when,
                codes,
                negated,
            } => {
                let codes: Vec<Value> = codes.iter().map(code).collect();
                let test = if negated {
                    json!({ "not": { "enum": codes } })
                } else {
                    json!({ "enum": codes })
                };
                conditions.push(json!({
                    "if": { "properties": { when: test }, "required": [when] },
                    "then": { "required": [field.name] }
                }));
            }
            Rule::WhenPresent(fields) => conditions.push(json!({
                "if": { "required": fields },
                "then": { "required": [field.name] }
            })),
            // A schema of one message cannot see the request an answer
            // answers; such rules are checked by bolink_types::answer_rules.
            Rule::Optional | Rule::External(_) | Rule::WhenRequest { .. } => {}
        }
    }
    let mut out = json!({ "type": "object", "properties": properties, "required": required });
    if !conditions.is_empty() {
        out["allOf"] = Value::Array(conditions);
    }
    out
}

fn kind(kind: Kind) -> Value {
    match kind {
        Kind::Text | Kind::MoneyText => json!({ "type": "string" }),
        Kind::Integer | Kind::UnixSeconds | Kind::UnixMillis => json!({ "type": "integer" }),
        Kind::Decimal | Kind::MoneyNumber => json!({ "type": "number" }),
        Kind::Enum { schema, as_text } => {
            let schema = schema();
            let codes: Vec<Value> = schema
                .variants
                .iter()
                .map(|v| code_as(&v.code, as_text))
                .collect();
            let wire = if as_text { "string" } else { "integer" };
            if schema.open {
                // Unknown codes are accepted: the known ones are documented only.
                json!({ "type": wire, "examples": codes })
            } else {
                json!({ "type": wire, "enum": codes })
            }
        }
        Kind::Object(nested) => object(nested()),
        Kind::Array(nested) => json!({ "type": "array", "items": object(nested()) }),
        Kind::Json => json!({}),
    }
}

fn code(code: &CodeRef<'static>) -> Value {
    match code {
        CodeRef::Int(i) => Value::from(*i),
        CodeRef::Str(s) => Value::from(*s),
    }
}

fn code_as(code: &CodeRef<'static>, as_text: bool) -> Value {
    match (code, as_text) {
        (CodeRef::Int(i), true) => Value::from(i.to_string()),
        (other, _) => self::code(other),
    }
}
