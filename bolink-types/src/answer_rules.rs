//! Rules of an answer's table that depend on the request it answers.
//!
//! Some answers must carry a field because of what the request held, not
//! because of anything in the answer: query_price's return needs
//! `query_order_no` when the query had `pay_scene` 1 or 2, and `in_time`
//! with `car_number` when it had 0 or 2 (3.1: "查询调用pay_scene为1,2时必传").
//! The spec writes such a rule as `{ request_when = "pay_scene", in = [1, 2] }`,
//! the derive records it as [`Rule::WhenRequest`], and it is checked here,
//! from the answer's schema, on the JSON of both messages: decoding an answer
//! alone cannot (and does not) check it.
//!
//! ```
//! use bolink_types::answer_rules::validate_answer;
//! use bolink_types::sdk::query_price::{Request, SdkReturn};
//! use bolink_types::{decode, Message};
//!
//! let request: Request = decode(br#"{"service_name":"query_price","park_id":"20003","pay_scene":1,"out_channel_id":"A1","query_order_no":"300022"}"#).unwrap();
//! let answer: SdkReturn = decode(br#"{"service_name":"query_price","data_target":"bolink","state":1,"park_id":"20003","order_id":"A1","price":"5.0","duration":30}"#).unwrap();
//! // Valid on its own, but the query had pay_scene 1.
//! assert!(bolink_types::Object::validate(&answer).is_ok());
//! assert_eq!(
//!     validate_answer(&answer, &request).unwrap_err().to_string(),
//!     "query_order_no: required when the request's pay_scene was 1 or 2"
//! );
//! ```

use serde_json::Value;

use crate::code::CodeRef;
use crate::report::{Report, Violation, ViolationKind};
use crate::schema::{ObjectSchema, Rule};
use crate::wire::number::{parse_integer, Integer};
use crate::Object;

/// Checks `answer` against its table and against the rules that name the
/// `request` it answers; every violation at once.
pub fn validate_answer<A: Object, R: Object>(answer: &A, request: &R) -> Result<(), Report> {
    let mut violations = match answer.validate() {
        Ok(()) => Vec::new(),
        Err(report) => report.violations,
    };
    // The derived encoders write only maps of strings, numbers and JSON
    // values, which serde_json cannot fail on.
    let answer = serde_json::to_value(answer).unwrap_or(Value::Null);
    let request = serde_json::to_value(request).unwrap_or(Value::Null);
    violations.extend(check(A::schema(), &answer, &request));
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Report { violations })
    }
}

/// The violations of the request-dependent rules of `schema` by `answer`
/// (JSON objects; anything else has no fields and triggers nothing).
pub fn check(schema: &ObjectSchema, answer: &Value, request: &Value) -> Vec<Violation> {
    schema
        .fields
        .iter()
        .filter(|field| triggered(field.rule, request) == Some(true))
        .filter(|field| !is_present(answer, field.name))
        .map(|field| Violation {
            path: field.name.to_string(),
            kind: ViolationKind::RequiredWhen {
                condition: condition(field.rule).unwrap_or_default(),
            },
        })
        .collect()
}

/// Whether a request-dependent rule applies given `request`; `None` for
/// the rules that do not depend on the request.
pub fn triggered(rule: Rule, request: &Value) -> Option<bool> {
    let Rule::WhenRequest {
        field,
        codes,
        negated,
    } = rule
    else {
        return None;
    };
    Some(match request.get(field).filter(|v| !v.is_null()) {
        Some(value) => has_code(value, codes) != negated,
        None => false,
    })
}

/// Whether a JSON value is one of `codes`, read as the platform reads codes
/// (`1`, `1.0` and `"1"` are the code 1).
pub fn has_code(value: &Value, codes: &[CodeRef<'_>]) -> bool {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return false,
    };
    let integer = match parse_integer(&text) {
        Ok(Integer::Plain(i) | Integer::Integral(i)) => Some(i),
        Err(_) => None,
    };
    codes.iter().any(|code| match code {
        CodeRef::Int(n) => integer == Some(*n),
        CodeRef::Str(t) => *t == text,
    })
}

fn is_present(object: &Value, name: &str) -> bool {
    object.get(name).is_some_and(|v| !v.is_null())
}

/// A request-dependent rule's condition in words (`the request's pay_scene
/// was 1 or 2`); `None` for the other rules.
pub fn condition(rule: Rule) -> Option<String> {
    match rule {
        Rule::WhenRequest {
            field,
            codes,
            negated,
        } => {
            let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
            let verb = if negated { "was not" } else { "was" };
            Some(format!(
                "the request's {field} {verb} {}",
                codes.join(" or ")
            ))
        }
        _ => None,
    }
}
