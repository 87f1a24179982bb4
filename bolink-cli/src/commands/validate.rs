//! `bolink validate`.

use std::path::Path;

use bolink_types::{newapi, peek_service_name, sdk, DecodeError, Role};

use super::{outcome, Outcome};

/// The two wire families of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    /// The SDK protocol and its HTTP mode (addressed by service_name).
    Sdk,
    /// The new platform API (addressed by URL path or service_name).
    Newapi,
}

/// Decodes and validates the message in `file` as `role`.
pub fn run(
    role: Role,
    family: Option<Family>,
    key_as: Option<&str>,
    file: Option<&Path>,
) -> Outcome {
    outcome(|| {
        let bytes = crate::input::read(file)?;
        let key = match key_as {
            Some(key) => key.to_string(),
            None => peek_service_name(&bytes)
                .map_err(|e| Outcome::malformed(e.to_string()))?
                .ok_or_else(|| {
                    Outcome::malformed(
                        "no service_name in the message (use --key-as for path-addressed messages)",
                    )
                })?,
        };
        match decode(role, family, &key, &bytes) {
            Ok(encoded) => {
                println!("{}", String::from_utf8_lossy(&encoded));
                Ok(Outcome::Success)
            }
            Err(DecodeError::Invalid { report }) => {
                println!("{report}");
                Ok(Outcome::Failed)
            }
            Err(other) => Err(Outcome::malformed(other.to_string())),
        }
    })
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
