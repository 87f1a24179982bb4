//! `bolink validate`.

use std::path::Path;

use bolink_cli::{validate_bytes, Family};
use bolink_types::Role;

use super::{outcome, Outcome};

/// Decodes and validates the message in `file` as `role`.
pub fn run(
    role: Role,
    family: Option<Family>,
    key_as: Option<&str>,
    file: Option<&Path>,
) -> Outcome {
    outcome(|| {
        let bytes = crate::input::read(file)?;
        match validate_bytes(role, family, key_as, &bytes) {
            (0, text) => {
                println!("{text}");
                Ok(Outcome::Success)
            }
            (1, text) => {
                println!("{text}");
                Ok(Outcome::Failed)
            }
            (_, text) => Err(Outcome::malformed(text)),
        }
    })
}
