//! Reading a command's input from a file or stdin.

use std::io::Read;
use std::path::Path;

use crate::commands::Outcome;

/// The bytes of `file`, or of stdin when there is none.
pub fn read(file: Option<&Path>) -> Result<Vec<u8>, Outcome> {
    let result = match file {
        Some(path) => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map(|_| bytes)
                .map_err(|e| format!("cannot read stdin: {e}"))
        }
    };
    result.map_err(Outcome::malformed)
}
