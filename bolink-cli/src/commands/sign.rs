//! `bolink sign`.

use std::path::Path;

use bolink_sign::{sign, Key};

use super::{outcome, Outcome};

/// Prints the sign of the data text in `file` (trailing whitespace trimmed).
pub fn run(key: &str, file: Option<&Path>) -> Outcome {
    outcome(|| {
        let bytes = crate::input::read(file)?;
        // Files end in a newline that is not part of the signed text.
        let data = bytes.trim_ascii_end();
        println!("{}", sign(data, &Key::new(key)));
        Ok(Outcome::Success)
    })
}
