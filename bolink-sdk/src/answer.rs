//! What a handler returns (the service's return message, or a refusal), and
//! how a refusal is written so that it satisfies the table it answers in.

use bolink_types::answer_rules;
use bolink_types::schema::{FieldSchema, Kind, ObjectSchema, Presence, Rule};
use bolink_types::CodeRef;
use serde_json::{Map, Value};

/// A handler's answer to one downstream request.
pub type Answer<M> = Result<M, Refusal>;

/// Which way an SDK answer travels. The pages say `data_target` is
/// "SDK模式必传,HTTP模式不传": written on the SDK's own link, left out in
/// HTTP mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LinkMode {
    /// HTTP mode (`/bpd/upload.do`, long polling): no `data_target`.
    #[default]
    Http,
    /// The SDK's link (TCP): `data_target` where the table fixes it.
    Sdk,
}

/// A failed answer: sent as the service's return with `state` 0 and `errmsg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The reason, shown to the platform; cut to the table's `errmsg`
    /// length (in characters) when sent.
    pub errmsg: String,
}

impl Refusal {
    /// A refusal with this reason.
    pub fn new(errmsg: impl Into<String>) -> Refusal {
        Refusal {
            errmsg: errmsg.into(),
        }
    }

    /// The default answer of every [`Handler`](crate::Handler) method.
    pub fn not_supported() -> Refusal {
        Refusal::new("not supported")
    }

    /// The refusal as the data JSON of `table` (the return table of
    /// `service_name`), valid against it:
    ///
    /// * `service_name` where the table carries it, the table's fixed
    ///   values (`data_target` only on the SDK's link), `state` 0, and
    ///   `errmsg` cut to its length in characters;
    /// * every always-required field, copied from the request it answers
    ///   when the request has it (order_id, car_number, timetemp, trade_no,
    ///   ...), else the neutral value of its kind (`""`, `0`, `"0.00"`, the
    ///   first code of an enum), so that a refusal never breaks the table
    ///   it answers in; the same for the rest of a `together` group one of
    ///   whose fields is present, and for the first of an `at_least_one`
    ///   group none of whose fields is, and for fields the request makes
    ///   required (query_order_no when the query had pay_scene 1 or 2).
    pub(crate) fn to_json(
        &self,
        service_name: &str,
        table: &ObjectSchema,
        request: &[u8],
        mode: LinkMode,
    ) -> Vec<u8> {
        let request: Map<String, Value> = serde_json::from_slice(request).unwrap_or_default();
        let mut out: Vec<(&str, Value)> = Vec::new();
        if table.service_name_presence != Presence::Absent {
            out.push(("service_name", service_name.into()));
        }
        out.extend(refused_object(table, &request, &self.errmsg, mode));
        ordered_json(&out).into_bytes()
    }
}

/// The fields of a refusal in `table`: its fixed values, `state` 0 and the
/// cut `errmsg` where it has them, and whatever it requires (see
/// [`Refusal::to_json`]); nested objects are refused the same way.
fn refused_object<'t>(
    table: &'t ObjectSchema,
    request: &Map<String, Value>,
    errmsg: &str,
    mode: LinkMode,
) -> Vec<(&'t str, Value)> {
    let mut out: Vec<(&str, Value)> = Vec::new();
    for constant in table.constants {
        out.push((constant.name, constant.value.into()));
    }
    for field in table.fields {
        match field.name {
            "state" => out.push(("state", 0.into())),
            "errmsg" => {
                let cut: String = match field.max_len {
                    Some(limit) => errmsg.chars().take(limit).collect(),
                    None => errmsg.to_string(),
                };
                out.push(("errmsg", cut.into()));
            }
            _ => {}
        }
    }
    let fill = |field: &FieldSchema| -> Value {
        match (field.kind, request.get(field.name)) {
            // A nested table is refused in turn, from the request's part.
            (Kind::Object(schema), part) => {
                let part = part.and_then(Value::as_object).cloned().unwrap_or_default();
                Value::Object(
                    refused_object(schema(), &part, errmsg, mode)
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }
            (_, Some(value)) => value.clone(),
            (kind, None) => neutral(kind),
        }
    };
    let has = |out: &[(&str, Value)], name: &str| out.iter().any(|(k, _)| *k == name);
    // Always-required fields, then rules whose condition now holds (errmsg
    // "required when state is 0"), until nothing changes.
    loop {
        let before = out.len();
        for field in table.fields {
            if has(&out, field.name) || !required_now(field.rule, &out, request) {
                continue;
            }
            let value = fill(field);
            out.push((field.name, value));
        }
        if out.len() == before {
            break;
        }
    }
    for group in table.together {
        if group.iter().any(|name| has(&out, name)) {
            for field in table.fields.iter().filter(|f| group.contains(&f.name)) {
                if !has(&out, field.name) {
                    let value = fill(field);
                    out.push((field.name, value));
                }
            }
        }
    }
    for group in table.at_least_one {
        if !group.iter().any(|name| has(&out, name)) {
            if let Some(field) = table.fields.iter().find(|f| Some(&f.name) == group.first()) {
                let value = fill(field);
                out.push((field.name, value));
            }
        }
    }
    if mode == LinkMode::Http {
        // Whether a fixed value or a field of the table: not in HTTP mode.
        out.retain(|(name, _)| *name != "data_target");
    }
    // In the table's order, as a typed message would be written.
    let position = |name: &str| table.fields.iter().position(|f| f.name == name);
    out.sort_by_key(|(name, _)| position(name).map_or(0, |p| p + 1));
    out
}

/// Whether a field's rule requires it given what is written so far and
/// the request being answered.
fn required_now(rule: Rule, out: &[(&str, Value)], request: &Map<String, Value>) -> bool {
    match rule {
        Rule::Always => true,
        Rule::When {
            field,
            codes,
            negated,
        } => match out.iter().find(|(k, _)| *k == field) {
            Some((_, value)) => answer_rules::has_code(value, codes) != negated,
            None => negated,
        },
        Rule::WhenPresent(fields) => fields.iter().all(|f| out.iter().any(|(k, _)| k == f)),
        Rule::WhenRequest { .. } => {
            let request = Value::Object(request.clone());
            answer_rules::triggered(rule, &request) == Some(true)
        }
        Rule::Optional | Rule::External(_) => false,
    }
}

fn ordered_json(fields: &[(&str, Value)]) -> String {
    let texts: Vec<(&str, String)> = fields
        .iter()
        .map(|(name, value)| (*name, value.to_string()))
        .collect();
    crate::json_object::write(texts.iter().map(|(k, v)| (*k, v.as_str())))
}

/// The value a required field gets in a refusal when the request does not
/// carry it: the plainest value its kind allows.
fn neutral(kind: Kind) -> Value {
    match kind {
        Kind::Text => "".into(),
        Kind::Integer | Kind::UnixSeconds | Kind::UnixMillis => 0.into(),
        Kind::Decimal | Kind::MoneyNumber => 0.into(),
        Kind::MoneyText => "0.00".into(),
        Kind::Enum { schema, as_text } => match schema().variants.first().map(|v| v.code) {
            Some(CodeRef::Int(n)) if as_text => n.to_string().into(),
            Some(CodeRef::Int(n)) => n.into(),
            Some(CodeRef::Str(t)) => t.into(),
            None => "".into(),
        },
        Kind::Object(_) => Value::Object(Map::new()),
        Kind::Array(_) => Value::Array(Vec::new()),
        Kind::Json => Value::Object(Map::new()),
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}", self.errmsg)
    }
}
