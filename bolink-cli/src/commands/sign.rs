//! `bolink sign`.

use std::path::Path;

use bolink_sign::sign;

use super::{outcome, Outcome};
use crate::keys::KeyArgs;

/// Prints the sign of the data text in `file` (trailing whitespace trimmed).
pub fn run(keys: &KeyArgs, file: Option<&Path>) -> Outcome {
    outcome(|| {
        let key = keys.single()?;
        let bytes = crate::input::read(file)?;
        // Files end in a newline that is not part of the signed text.
        let data = bytes.trim_ascii_end();
        println!("{}", sign(data, &key));
        Ok(Outcome::Success)
    })
}
