//! `bolink codegen --spec DIR [--out FILE]`: the Rust types of a spec of
//! one's own, on bolink-types' runtime (bolink-codegen's vendor module).

use std::path::Path;

use super::Outcome;

/// Generates the module and writes it to `out`, or prints it.
pub fn run(spec: &Path, out: Option<&Path>) -> Outcome {
    let result = match out {
        Some(out) => bolink_codegen::write_vendor_module(spec, out).map(|()| None),
        None => bolink_codegen::vendor_module(spec).map(Some),
    };
    match result {
        Ok(Some(text)) => {
            print!("{text}");
            Outcome::Success
        }
        Ok(None) => Outcome::Success,
        // A spec that breaks the format is read but fails the check: every
        // problem, one per line, as `bolink validate` prints violations.
        Err(bolink_codegen::VendorError::Spec(errors)) => {
            eprintln!("{errors}");
            Outcome::Failed
        }
        Err(other) => Outcome::malformed(other.to_string()),
    }
}
