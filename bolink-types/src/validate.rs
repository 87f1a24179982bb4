//! Checking one message whose service (and even family) is known only from
//! the bytes: the entry point behind `bolink validate`, fuzzers and
//! conformance tests.
//!
//! [`validate`] finds the service (the given key, else the message's
//! `service_name`), decodes the bytes as that service's table of the given
//! role, and says what it found: a valid message re-encoded in the spec's
//! wire types, the violations, or why the bytes are not a message it can
//! check.
//!
//! ```
//! use bolink_types::validate::{validate, Family, Validation};
//! use bolink_types::Role;
//!
//! // pay_scene sent as a string is read as the number the table says.
//! let text = r#"{"service_name":"query_price","park_id":"20003","pay_scene":"0","car_number":"京HP00G6","order_id":"1"}"#;
//! match validate(Role::Request, None, None, text.as_bytes()) {
//!     Validation::Valid { family, encoded, .. } => {
//!         assert_eq!(family, Family::Sdk);
//!         assert_eq!(
//!             String::from_utf8(encoded).unwrap(),
//!             r#"{"service_name":"query_price","car_number":"京HP00G6","order_id":"1","park_id":"20003","pay_scene":0}"#
//!         );
//!     }
//!     other => panic!("{other:?}"),
//! }
//!
//! // Every violation at once, with its path.
//! let bytes = br#"{"service_name":"query_price","park_id":"20003","pay_scene":2,"order_id":"1"}"#;
//! let Validation::Violations { report, .. } = validate(Role::Request, Some(Family::Sdk), None, bytes) else {
//!     panic!("expected violations");
//! };
//! assert_eq!(
//!     report.to_string(),
//!     "car_number: required when pay_scene is 0 or 2\n\
//!      out_channel_id: required when pay_scene is 1 or 2\n\
//!      query_order_no: required when pay_scene is 1 or 2"
//! );
//!
//! // A path-addressed new-API message has no service_name: name its key.
//! let bytes = br#"{"park_id":"1"}"#;
//! assert!(matches!(
//!     validate(Role::Request, None, None, bytes),
//!     Validation::Malformed(bolink_types::DecodeError::MissingServiceName)
//! ));
//! ```

use crate::message::peek_service_name;
use serde_json::Value;

use crate::schema::ObjectSchema;
use crate::{answer_rules, newapi, sdk, DecodeError, Decoded, Report, Role, Slip, INTERFACES};

pub use crate::catalog::Family;

/// What [`validate`] found.
///
/// Not `#[non_exhaustive]`: a message is valid, breaks its table, or cannot
/// be checked, and callers map each case (the CLI to its exit codes 0, 1, 2).
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// The message is valid.
    Valid {
        /// The family whose service it was read as.
        family: Family,
        /// The message re-encoded in the spec's wire types (numbers sent as
        /// strings written as numbers, unknown keys dropped).
        encoded: Vec<u8>,
        /// What was read leniently: warnings, not violations.
        slips: Vec<Slip>,
    },
    /// The message is well-formed JSON of a known service but breaks its
    /// table: every violation, with its path.
    Violations {
        /// The violations.
        report: Report,
        /// What was read leniently on the way.
        slips: Vec<Slip>,
    },
    /// The bytes cannot be checked: not one JSON object
    /// ([`DecodeError::Syntax`]), no key to look the service up by
    /// ([`DecodeError::MissingServiceName`]), or no such service for the
    /// role ([`DecodeError::UnknownService`]).
    Malformed(DecodeError),
}

impl Validation {
    /// Whether the message is valid.
    pub fn is_valid(&self) -> bool {
        matches!(self, Validation::Valid { .. })
    }

    /// What was read leniently (empty when the bytes could not be checked).
    pub fn slips(&self) -> &[Slip] {
        match self {
            Validation::Valid { slips, .. } | Validation::Violations { slips, .. } => slips,
            Validation::Malformed(_) => &[],
        }
    }
}

/// Decodes and validates one message as `role`.
///
/// The service is `key` when given (a `service_name`, or the URL path of a
/// new-API interface addressed by path), else the message's own
/// `service_name`. It is looked up in `family`, or, when none is given, in
/// the SDK family and then, if the SDK family has no such service, in the
/// new API.
pub fn validate(role: Role, family: Option<Family>, key: Option<&str>, bytes: &[u8]) -> Validation {
    let peeked;
    let key = match key {
        Some(key) => key,
        None => match peek_service_name(bytes) {
            Ok(Some(name)) => {
                peeked = name;
                peeked.as_str()
            }
            Ok(None) => return Validation::Malformed(DecodeError::MissingServiceName),
            Err(e) => return Validation::Malformed(e),
        },
    };
    let (family, result) = match family {
        Some(family) => (family, decode_in(family, role, key, bytes)),
        None => match decode_in(Family::Sdk, role, key, bytes) {
            // Not an SDK service: the new API may have it.
            Err(DecodeError::UnknownService { .. }) => {
                (Family::Newapi, decode_in(Family::Newapi, role, key, bytes))
            }
            other => (Family::Sdk, other),
        },
    };
    match result {
        Ok(Decoded {
            message: encoded,
            slips,
        }) => Validation::Valid {
            family,
            encoded,
            slips,
        },
        Err(DecodeError::Invalid { report, slips }) => Validation::Violations { report, slips },
        Err(e) => Validation::Malformed(e),
    }
}

/// [`validate`] an answer, and check with it the rules of its table that
/// name the request it answers (`request`, that message's JSON): 3.1's
/// return needs `query_order_no` when the query had `pay_scene` 1 or 2.
/// See [`crate::answer_rules`].
///
/// ```
/// use bolink_types::validate::{validate_answer, Validation};
/// use bolink_types::Role;
///
/// let request = br#"{"service_name":"query_price","park_id":"20003","pay_scene":1,"out_channel_id":"A1","query_order_no":"300022"}"#;
/// let answer = br#"{"service_name":"query_price","state":1,"park_id":"20003","order_id":"A1","price":"5.0","duration":30}"#;
/// let Validation::Violations { report, .. } =
///     validate_answer(Role::HttpReturn, None, None, answer, request)
/// else {
///     panic!("query_order_no is due");
/// };
/// assert_eq!(report.to_string(), "query_order_no: required when the request's pay_scene was 1 or 2");
/// ```
pub fn validate_answer(
    role: Role,
    family: Option<Family>,
    key: Option<&str>,
    bytes: &[u8],
    request: &[u8],
) -> Validation {
    let request: Value = match serde_json::from_slice(request) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => return Validation::Malformed(in_request("not a JSON object", 1, 1)),
        Err(e) => return Validation::Malformed(in_request(&e.to_string(), e.line(), e.column())),
    };
    let validation = validate(role, family, key, bytes);
    let found = match &validation {
        Validation::Valid { family, .. } => *family,
        // Only the family is needed: the same lookup as validate's.
        Validation::Violations { .. } => family.unwrap_or_else(|| family_of(role, key, bytes)),
        Validation::Malformed(_) => return validation,
    };
    let answer: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let key = key
        .map(str::to_string)
        .or_else(|| peek_service_name(bytes).ok().flatten());
    let broken = key
        .as_deref()
        .and_then(|key| schema_of(found, role, key))
        .map(|schema| answer_rules::check(schema, &answer, &request))
        .unwrap_or_default();
    match validation {
        // Valid on both counts.
        valid @ Validation::Valid { .. } if broken.is_empty() => valid,
        Validation::Valid { slips, .. } => Validation::Violations {
            report: Report { violations: broken },
            slips,
        },
        Validation::Violations { mut report, slips } => {
            report.violations.extend(broken);
            Validation::Violations { report, slips }
        }
        malformed @ Validation::Malformed(_) => malformed,
    }
}

fn in_request(message: &str, line: usize, column: usize) -> DecodeError {
    DecodeError::Syntax {
        line,
        column,
        message: format!("the request: {message}"),
    }
}

/// The family [`validate`] finds a service in when none is given.
fn family_of(role: Role, key: Option<&str>, bytes: &[u8]) -> Family {
    let key = key
        .map(str::to_string)
        .or_else(|| peek_service_name(bytes).ok().flatten());
    match key {
        Some(key) if schema_of(Family::Sdk, role, &key).is_none() => Family::Newapi,
        _ => Family::Sdk,
    }
}

/// The table of `role` of the interface `key` (service_name or URL path) in `family`.
fn schema_of(family: Family, role: Role, key: &str) -> Option<&'static ObjectSchema> {
    INTERFACES
        .iter()
        .filter(|info| info.document.family() == family)
        .filter(|info| info.service_name == Some(key) || info.url_path == Some(key))
        .flat_map(|info| info.roles)
        .find(|info| info.role == role)
        .map(|info| (info.schema)())
}

/// Decodes in one family; returns the re-encoded message.
fn decode_in(
    family: Family,
    role: Role,
    key: &str,
    bytes: &[u8],
) -> Result<Decoded<Vec<u8>>, DecodeError> {
    match family {
        Family::Sdk => {
            sdk::Message::decode_as_with_slips(role, key, bytes).map(|d| d.map(|m| m.encode()))
        }
        Family::Newapi => {
            newapi::Message::decode_as_with_slips(role, key, bytes).map(|d| d.map(|m| m.encode()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_api_service_is_found_without_a_family() {
        let bytes = br#"{"service_name":"park_check","state":1,"data":{"status":1}}"#;
        match validate(Role::Response, None, None, bytes) {
            Validation::Valid { family, .. } => assert_eq!(family, Family::Newapi),
            other => panic!("{other:?}"),
        }
        // Asked for in the SDK family only, it is unknown there.
        assert!(matches!(
            validate(Role::Response, Some(Family::Sdk), None, bytes),
            Validation::Malformed(DecodeError::UnknownService { .. })
        ));
    }

    #[test]
    fn an_unknown_service_is_malformed_with_its_name_and_role() {
        let bytes = br#"{"service_name":"no_such_service"}"#;
        match validate(Role::Request, None, None, bytes) {
            Validation::Malformed(DecodeError::UnknownService { service_name, role }) => {
                assert_eq!(service_name, "no_such_service");
                assert_eq!(role, Role::Request);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_syntax_error_even_with_a_key() {
        for key in [None, Some("query_price")] {
            assert!(matches!(
                validate(Role::Request, None, key, b"{\"service_name\":"),
                Validation::Malformed(DecodeError::Syntax { .. })
            ));
        }
    }
}
