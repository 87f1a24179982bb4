//! One module per subcommand, and the exit codes they share.

use std::process::ExitCode;

pub mod codegen;
pub mod demo;
pub mod lot;
mod sample_lot;
pub mod sign;
pub mod simulate;
pub mod spec;
pub mod validate;
pub mod verify;

/// `--format`: how `verify` and `validate` print their result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Lines for a person (the default).
    #[default]
    Text,
    /// One JSON object on one line, for scripts.
    Json,
}

/// How a command ended; each maps to the exit code of the CLI contract.
#[derive(Debug)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the input was read but failed the check (sign mismatch, violations).
    Failed,
    /// Exit 2: the input could not be read (malformed, unknown service, I/O); the reason is printed to stderr.
    Malformed(String),
}

impl Outcome {
    /// A malformed-input outcome with its reason.
    pub fn malformed(reason: impl Into<String>) -> Outcome {
        Outcome::Malformed(reason.into())
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        match outcome {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
            Outcome::Malformed(reason) => {
                eprintln!("error: {reason}");
                ExitCode::from(2)
            }
        }
    }
}

/// Runs `body` on the two-thread runtime of the commands that talk to a
/// platform (the demo, the simulator, the reference lot).
pub fn on_runtime<F: std::future::Future<Output = Outcome>>(body: F) -> Outcome {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(body),
        Err(e) => Outcome::malformed(format!("cannot start the async runtime: {e}")),
    }
}

/// `value` as one line of JSON.
pub fn to_json(value: &impl serde::Serialize) -> Result<String, Outcome> {
    serde_json::to_string(value).map_err(|e| Outcome::malformed(format!("cannot write JSON: {e}")))
}

/// Runs a command body written with `?` on [`Outcome`] errors.
pub fn outcome(body: impl FnOnce() -> Result<Outcome, Outcome>) -> Outcome {
    body().unwrap_or_else(|outcome| outcome)
}
