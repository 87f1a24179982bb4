//! `bolink verify`, and `--explain`: why a sign does not match.

use std::path::Path;

use bolink_sign::explain::{self, explain_parsed, ExplainError, Family};
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::{parse_any, sign};

use super::{outcome, Format, Outcome};
use crate::keys::KeyArgs;

/// The `--help` text after the options: the cause ids and the JSON object.
pub fn after_help() -> String {
    format!(
        "--explain tries the mistakes integrators make and prints one `cause: ID` line for \
         each that reproduces the received sign (`cause: unknown` when none does):\n\
         {}\n\
         --format json prints one object instead of text:\n  \
         {{\"valid\":BOOL,\"family\":\"sdk-http\"|\"newapi\",\"encoding\":\"json\"|\"base64\",\
         \"expected\":SIGN,\"causes\":[ID,..]}}\n\
         `expected` is the sign of the received data with the first key; `causes` is null \
         without --explain. On exit 2 nothing is printed to stdout, the reason goes to stderr.",
        explain::cause_list()
    )
}

/// What `--format json` prints, fields in this order.
#[derive(serde::Serialize)]
struct Report {
    valid: bool,
    family: &'static str,
    encoding: &'static str,
    expected: String,
    causes: Option<Vec<String>>,
}

/// Checks the sign of the envelope in `file`, either form; with `explain`,
/// says why it does not match.
pub fn run(keys: &KeyArgs, explain: bool, format: Format, file: Option<&Path>) -> Outcome {
    outcome(|| {
        let keys = keys.resolve()?;
        let bytes = crate::input::read(file)?;
        let body = parse_any(bytes.trim_ascii())
            .map_err(|e| Outcome::malformed(format!("not an envelope: {e}")))?;
        // resolve() never returns an empty list.
        let Some(first) = keys.first() else {
            return Err(Outcome::malformed("no key"));
        };
        let envelope = body.envelope();
        let verdict = envelope.verify(&first.key);
        let expected = sign(envelope.data_bytes(), &first.key);
        let causes = if explain {
            Some(match explain_parsed(&body, &keys) {
                Ok(explanation) => explanation.cause_ids(),
                Err(ExplainError::MalformedSign(_)) => vec!["malformed-sign".to_owned()],
                Err(e) => return Err(Outcome::malformed(e.to_string())),
            })
        } else {
            None
        };
        match format {
            Format::Text => {
                match &verdict {
                    Ok(()) => println!("sign ok"),
                    Err(e) => println!("sign does not match ({e}); expected {expected}"),
                }
                for cause in causes.iter().flatten() {
                    println!("cause: {cause}");
                }
            }
            Format::Json => {
                let encoding = match body.encoding() {
                    BodyEncoding::Json => "json",
                    BodyEncoding::Base64 => "base64",
                };
                let report = Report {
                    valid: verdict.is_ok(),
                    family: Family::of(&envelope).as_str(),
                    encoding,
                    expected: expected.to_string(),
                    causes,
                };
                println!("{}", super::to_json(&report)?);
            }
        }
        Ok(if verdict.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failed
        })
    })
}
