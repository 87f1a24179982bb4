//! `bolink validate`: the exit codes and text of the CLI contract over
//! [`bolink_types::validate`].

use std::path::Path;

use bolink_types::validate::{validate, validate_answer, Family, Validation};
use bolink_types::{DecodeError, Role, Slip, SlipKind};
use serde_json::value::RawValue;

use super::{outcome, Format, Outcome};

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

/// The `--help` text after the options: the JSON object of `--format json`.
pub const AFTER_HELP: &str = "--format json prints one object instead of text (and no warnings on stderr):\n  \
{\"valid\":BOOL,\"family\":\"sdk\"|\"newapi\"|null,\"encoded\":MESSAGE|null,\
\"violations\":[{\"path\":P,\"message\":M},..],\"slips\":[{\"path\":P,\"received\":R,\"read_as\":A},..]}\n\
`family` and `encoded` (the message re-encoded) are null when the message is not valid; a path is \"\" \
for the whole message; `read_as` is the type a value was read as, \"absent\", or \"ignored\" for a key \
not in the table. On exit 2 nothing is printed to stdout, the reason goes to stderr.";

/// What `--format json` prints, fields in this order.
#[derive(serde::Serialize)]
struct Report<'a> {
    valid: bool,
    family: Option<&'static str>,
    encoded: Option<Box<RawValue>>,
    violations: Vec<ViolationOut>,
    slips: Vec<SlipOut<'a>>,
}

#[derive(serde::Serialize)]
struct ViolationOut {
    path: String,
    message: String,
}

#[derive(serde::Serialize)]
struct SlipOut<'a> {
    path: &'a str,
    received: &'a str,
    read_as: &'static str,
}

impl<'a> From<&'a Slip> for SlipOut<'a> {
    fn from(slip: &'a Slip) -> Self {
        SlipOut {
            path: &slip.path,
            received: &slip.received,
            read_as: match slip.read_as {
                SlipKind::Converted(expected) => expected,
                SlipKind::Absent => "absent",
                SlipKind::UnknownKey => "ignored",
                _ => "other",
            },
        }
    }
}

/// Decodes and validates the message in `file` as `role`: exit 0 printing
/// the message re-encoded, 1 printing every violation as `path: problem`
/// (one per line), 2 with why the input is malformed or the service unknown.
/// What was read leniently is printed to stderr as `warning: path: ...`
/// lines, whatever the outcome; it does not change the exit code.
/// `Format::Json` prints all of it as one object on stdout instead.
///
/// With `request`, the message is an answer checked also against the rules
/// that name the request it answers.
pub fn run(
    role: Role,
    family: Option<FamilyArg>,
    key_as: Option<&str>,
    request: Option<&Path>,
    format: Format,
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
        match &validation {
            // The library's reason, plus the flag that fixes it here.
            Validation::Malformed(DecodeError::MissingServiceName) => {
                return Err(Outcome::malformed(
                    "no service_name in the message (use --key-as for path-addressed messages)",
                ))
            }
            Validation::Malformed(e) => return Err(Outcome::malformed(e.to_string())),
            Validation::Valid { .. } | Validation::Violations { .. } => {}
        }
        match format {
            Format::Text => print_text(&validation),
            Format::Json => println!("{}", super::to_json(&report(&validation)?)?),
        }
        Ok(if validation.is_valid() {
            Outcome::Success
        } else {
            Outcome::Failed
        })
    })
}

fn print_text(validation: &Validation) {
    for slip in validation.slips() {
        eprintln!("warning: {slip}");
    }
    match validation {
        Validation::Valid { encoded, .. } => println!("{}", String::from_utf8_lossy(encoded)),
        Validation::Violations { report, .. } => println!("{report}"),
        Validation::Malformed(_) => {}
    }
}

fn report(validation: &Validation) -> Result<Report<'_>, Outcome> {
    let slips = validation.slips().iter().map(SlipOut::from).collect();
    Ok(match validation {
        Validation::Valid {
            family, encoded, ..
        } => {
            let text = String::from_utf8(encoded.clone())
                .map_err(|e| Outcome::malformed(format!("re-encoded message: {e}")))?;
            let encoded = RawValue::from_string(text)
                .map_err(|e| Outcome::malformed(format!("re-encoded message: {e}")))?;
            Report {
                valid: true,
                family: Some(family.as_str()),
                encoded: Some(encoded),
                violations: Vec::new(),
                slips,
            }
        }
        Validation::Violations { report, .. } => Report {
            valid: false,
            family: None,
            encoded: None,
            violations: report
                .violations
                .iter()
                .map(|v| ViolationOut {
                    path: v.path.clone(),
                    message: v.kind.to_string(),
                })
                .collect(),
            slips,
        },
        Validation::Malformed(e) => return Err(Outcome::malformed(e.to_string())),
    })
}
