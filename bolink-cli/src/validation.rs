//! `bolink validate` without I/O: bytes in, exit code and text out.

use bolink_types::{newapi, peek_service_name, sdk, DecodeError, Role};

/// The two wire families of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    /// The SDK protocol and its HTTP mode (addressed by service_name).
    Sdk,
    /// The new platform API (addressed by URL path or service_name).
    Newapi,
}

/// Decodes and validates one message as `role`; returns the CLI's exit code
/// and what it prints: 0 with the message re-encoded in the spec's wire
/// types, 1 with every violation as `path: problem` (one per line), 2 with
/// why the input is malformed or the service unknown.
///
/// The service is `key_as` when given, else the message's `service_name`;
/// it is looked up in `family`, or in the SDK family and then the new API.
pub fn validate_bytes(
    role: Role,
    family: Option<Family>,
    key_as: Option<&str>,
    bytes: &[u8],
) -> (u8, String) {
    let key = match key_as {
        Some(key) => key.to_string(),
        None => match peek_service_name(bytes) {
            Ok(Some(name)) => name,
            Ok(None) => {
                return (
                    2,
                    "no service_name in the message (use --key-as for path-addressed messages)"
                        .into(),
                )
            }
            Err(e) => return (2, e.to_string()),
        },
    };
    match decode(role, family, &key, bytes) {
        Ok(encoded) => (0, String::from_utf8_lossy(&encoded).into_owned()),
        Err(DecodeError::Invalid { report }) => (1, report.to_string()),
        Err(other) => (2, other.to_string()),
    }
}

/// Decodes in the requested family, or in the SDK family and then the new
/// API when none was requested; returns the re-encoded message.
fn decode(
    role: Role,
    family: Option<Family>,
    key: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    let in_sdk = || sdk::Message::decode_as(role, key, bytes).map(|m| m.encode());
    let in_newapi = || newapi::Message::decode_as(role, key, bytes).map(|m| m.encode());
    match family {
        Some(Family::Sdk) => in_sdk(),
        Some(Family::Newapi) => in_newapi(),
        None => match in_sdk() {
            Err(DecodeError::UnknownService { .. }) => in_newapi(),
            other => other,
        },
    }
}
