//! What a lot's answer to a downstream message amounts to: answered,
//! refused, invalid, or nothing at all, with every violation of the
//! service's return table.
//!
//! Which table: the link decides. An answer over SDK-HTTP mode is judged
//! against the page's `http_return` table (the fields inside the
//! envelope's `data`); one over the TCP link against `sdk_return`, the
//! table of SDK mode, which is what travels on that link (the cloud's
//! server code shows answers there carrying `data_target`, an `sdk_return`
//! field; `reference/sdk/_protocol.json`, `envelope`). A service whose
//! page has only one of the two tables is judged against that one.

use bolink_types::sdk::Ack;
use bolink_types::{answer_rules, decode, sdk, DecodeError, Role};

use super::observe::Link;

/// The verdict on a downstream message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// `state` 1 and valid against the return table.
    Answered,
    /// `state` 0: the lot refused (the refusal is checked against the
    /// table too; its violations are listed).
    Refused,
    /// Neither: the answer breaks its table, or has no readable `state`.
    Invalid,
    /// Nothing came in time (or the message could not be delivered).
    NoAnswer,
}

impl Verdict {
    /// `answered`, `refused`, `invalid` or `no_answer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Answered => "answered",
            Verdict::Refused => "refused",
            Verdict::Invalid => "invalid",
            Verdict::NoAnswer => "no_answer",
        }
    }
}

/// A judged answer.
pub(crate) struct Judged {
    pub verdict: Verdict,
    /// The answer as JSON, when it is JSON.
    pub json: Option<serde_json::Value>,
    /// Every violation, as `path: problem`.
    pub violations: Vec<String>,
    /// The decoded answer, when it is valid.
    pub message: Option<sdk::Message>,
    /// The table it was judged against; `None` when the service has none.
    pub role: Option<Role>,
    /// Why it is invalid, as a decoding error (for typed callers).
    pub error: Option<DecodeError>,
}

/// The roles to judge an answer on `link` against, preferred first.
fn roles_for(link: Link) -> [Role; 2] {
    match link {
        Link::Tcp => [Role::SdkReturn, Role::HttpReturn],
        Link::Http | Link::NewApi => [Role::HttpReturn, Role::SdkReturn],
    }
}

/// Reads `state` as the platform's Java reads it: a number, or a string
/// holding one.
pub(crate) fn state_of(json: &serde_json::Value) -> Option<i64> {
    match json.get("state")? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Judges `answer`, the data of a lot's answer to `service_name` that
/// came over `link`, against its table and the rules that name `request`
/// (the data of the message it answers: query_order_no is due when the
/// query had pay_scene 1 or 2).
pub(crate) fn judge(
    service_name: &str,
    link: Link,
    answer: &[u8],
    request: &serde_json::Value,
) -> Judged {
    let json = match serde_json::from_slice::<serde_json::Value>(answer) {
        Ok(json) if json.is_object() => json,
        Ok(_) => return unreadable(answer, "(message): not a JSON object".into()),
        Err(e) => return unreadable(answer, format!("(message): not JSON: {e}")),
    };
    let mut role = None;
    let mut violations = Vec::new();
    let mut message = None;
    let mut error = None;
    for candidate in roles_for(link) {
        let form = match link {
            Link::Http => http_mode_form(service_name, candidate, answer),
            Link::Tcp | Link::NewApi => answer.to_vec(),
        };
        match sdk::Message::decode_as(candidate, service_name, &form) {
            Ok(decoded) => {
                role = Some(candidate);
                violations = answer_rules::check(decoded.schema(), &json, request)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                message = Some(decoded);
                break;
            }
            Err(DecodeError::UnknownService { .. }) => continue,
            Err(DecodeError::Invalid { report, slips }) => {
                role = Some(candidate);
                violations = report.violations.iter().map(|v| v.to_string()).collect();
                error = Some(DecodeError::Invalid { report, slips });
                break;
            }
            Err(other) => {
                role = Some(candidate);
                violations = vec![format!("(message): {other}")];
                error = Some(other);
                break;
            }
        }
    }
    let verdict = match state_of(&json) {
        Some(1) if violations.is_empty() => Verdict::Answered,
        Some(0) => Verdict::Refused,
        _ => {
            if violations.is_empty() {
                violations.push("state: missing, or neither 0 nor 1".into());
            }
            if error.is_none() {
                // No table caught it (the service has none): the platform's
                // acknowledgement shape says what is wrong with `state`.
                error = Some(
                    decode::<Ack>(answer)
                        .err()
                        .unwrap_or(DecodeError::MissingServiceName),
                );
            }
            Verdict::Invalid
        }
    };
    Judged {
        verdict,
        json: Some(json),
        violations,
        message: if verdict == Verdict::Answered {
            message
        } else {
            None
        },
        role,
        error: if verdict == Verdict::Invalid {
            error
        } else {
            None
        },
    }
}

/// An HTTP-mode answer read against a table that fixes `data_target`: the
/// pages say it is "SDK模式必传,HTTP模式不传", so a lot in HTTP mode leaves
/// it out and the table's fixed value stands for it.
fn http_mode_form(service_name: &str, role: Role, answer: &[u8]) -> Vec<u8> {
    let fixed = bolink_types::INTERFACES
        .iter()
        .filter(|i| i.service_name == Some(service_name))
        .flat_map(|i| i.roles.iter())
        .find(|r| r.role == role)
        .and_then(|r| {
            (r.schema)()
                .constants
                .iter()
                .find(|c| c.name == "data_target")
        });
    let Ok(mut object) =
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(answer)
    else {
        return answer.to_vec();
    };
    match fixed {
        Some(constant) if !object.contains_key("data_target") => {
            object.insert("data_target".into(), constant.value.into());
            serde_json::to_vec(&object).unwrap_or_else(|_| answer.to_vec())
        }
        _ => answer.to_vec(),
    }
}

/// An answer that is not a JSON object.
fn unreadable(answer: &[u8], violation: String) -> Judged {
    Judged {
        verdict: Verdict::Invalid,
        json: None,
        violations: vec![violation],
        message: None,
        role: None,
        // The acknowledgement shape reads any object: its error is the
        // syntax or type error of the bytes.
        error: decode::<Ack>(answer).err(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_REQUEST: serde_json::Value = serde_json::Value::Null;

    const PRICE: &str = r#"{"service_name":"query_price","state":1,"duration":60,"park_id":"21835","order_id":"o-1","price":"5.00"}"#;

    #[test]
    fn the_link_picks_the_table() {
        let http = judge("query_price", Link::Http, PRICE.as_bytes(), &NO_REQUEST);
        assert_eq!(http.verdict, Verdict::Answered, "{:?}", http.violations);
        assert_eq!(http.role, Some(Role::HttpReturn));
        // SDK mode's table wants data_target as well.
        let tcp = judge("query_price", Link::Tcp, PRICE.as_bytes(), &NO_REQUEST);
        assert_eq!(tcp.verdict, Verdict::Invalid);
        assert_eq!(tcp.role, Some(Role::SdkReturn));
        assert!(
            tcp.violations.iter().any(|v| v.starts_with("data_target")),
            "{:?}",
            tcp.violations
        );
        // A page with only the SDK table is judged against it on either link.
        let prepay = judge(
            "prepay_order",
            Link::Http,
            br#"{"service_name":"prepay_order","state":0}"#,
            &NO_REQUEST,
        );
        assert_eq!(prepay.role, Some(Role::SdkReturn));
    }

    #[test]
    fn refusals_are_checked_too_and_junk_is_invalid() {
        let refused = judge(
            "query_price",
            Link::Http,
            br#"{"state":0,"errmsg":"no such car"}"#,
            &NO_REQUEST,
        );
        assert_eq!(refused.verdict, Verdict::Refused);
        // The table requires these even in a refusal.
        assert!(
            refused.violations.iter().any(|v| v.starts_with("order_id")),
            "{:?}",
            refused.violations
        );
        for junk in [&b"[1]"[..], b"nope", b"{\"price\":\"5\"}", b"{\"state\":7}"] {
            let judged = judge("query_price", Link::Http, junk, &NO_REQUEST);
            assert_eq!(judged.verdict, Verdict::Invalid);
            assert!(!judged.violations.is_empty());
        }
        assert_eq!(state_of(&serde_json::json!({"state": "1"})), Some(1));
    }

    #[test]
    fn rules_naming_the_request_are_judged_with_it() {
        // A query at the exit (pay_scene 1) must be answered with its
        // query_order_no; the same answer to an in-lot query (0) lacks
        // in_time and car_number instead.
        let at_exit = serde_json::json!({"pay_scene": 1, "query_order_no": "q-9"});
        let judged = judge("query_price", Link::Http, PRICE.as_bytes(), &at_exit);
        assert_eq!(judged.verdict, Verdict::Invalid);
        assert_eq!(
            judged.violations,
            ["query_order_no: required when the request's pay_scene was 1 or 2"]
        );
        let in_lot = serde_json::json!({"pay_scene": "0"});
        let judged = judge("query_price", Link::Http, PRICE.as_bytes(), &in_lot);
        assert_eq!(
            judged.violations,
            [
                "in_time: required when the request's pay_scene was 0 or 2",
                "car_number: required when the request's pay_scene was 0 or 2"
            ]
        );
        let answered = PRICE.replace("\"price\"", "\"query_order_no\":\"q-9\",\"price\"");
        let judged = judge("query_price", Link::Http, answered.as_bytes(), &at_exit);
        assert_eq!(judged.verdict, Verdict::Answered, "{:?}", judged.violations);
    }
}
