//! `bolink validate`: the exit codes and text of the CLI contract over
//! [`bolink_types::validate`].

use std::path::Path;

use bolink_types::validate::{validate, validate_answer, Family, Validation};
use bolink_types::{DecodeError, Role};

use super::{outcome, Outcome};

/// `--family`: the wire families, as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    /// The SDK protocol and its HTTP mode (addressed by service_name).
    Sdk,
    /// The new platform API (addressed by URL path or service_name).
    Newapi,
}

impl From<FamilyArg> for Family {
    fn from(arg: FamilyArg) -> Family {
        match arg {
            FamilyArg::Sdk => Family::Sdk,
            FamilyArg::Newapi => Family::Newapi,
        }
    }
}

/// Decodes and validates the message in `file` as `role`: exit 0 printing
/// the message re-encoded, 1 printing every violation as `path: problem`
/// (one per line), 2 with why the input is malformed or the service unknown.
/// What was read leniently is printed to stderr as `warning: path: ...`
/// lines, whatever the outcome; it does not change the exit code.
///
/// With `request`, the message is an answer checked also against the rules
/// that name the request it answers.
pub fn run(
    role: Role,
    family: Option<FamilyArg>,
    key_as: Option<&str>,
    request: Option<&Path>,
    file: Option<&Path>,
) -> Outcome {
    outcome(|| {
        let bytes = crate::input::read(file)?;
        let family = family.map(Family::from);
        let validation = match request {
            None => validate(role, family, key_as, &bytes),
            Some(path) => {
                let request = crate::input::read(Some(path))?;
                validate_answer(role, family, key_as, &bytes, &request)
            }
        };
        for slip in validation.slips() {
            eprintln!("warning: {slip}");
        }
        match validation {
            Validation::Valid { encoded, .. } => {
                println!("{}", String::from_utf8_lossy(&encoded));
                Ok(Outcome::Success)
            }
            Validation::Violations { report, .. } => {
                println!("{report}");
                Ok(Outcome::Failed)
            }
            // The library's reason, plus the flag that fixes it here.
            Validation::Malformed(DecodeError::MissingServiceName) => Err(Outcome::malformed(
                "no service_name in the message (use --key-as for path-addressed messages)",
            )),
            Validation::Malformed(e) => Err(Outcome::malformed(e.to_string())),
        }
    })
}
