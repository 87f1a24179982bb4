//! Project automation, run as `cargo xtask <command>`:
//!
//! - `codegen [--check]`: turn `protocol-spec/` into `bolink-types/src/generated/`
//!   (with `--check`, fail naming the stale file instead of writing);
//! - `coverage`: per document, interfaces listed / specified / partial / missing;
//! - `fuzz [--seconds N] [TARGET...]`: seed and run the cargo-fuzz targets;
//! - `msrv`: check the workspace's `rust-version` against every locked dependency.

mod codegen;
mod coverage;
mod fuzz;
mod msrv;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("codegen") => {
            let check = args.iter().any(|a| a == "--check");
            codegen::run(&workspace_root(), check)
        }
        Some("coverage") => coverage::run(&workspace_root()),
        Some("fuzz") => fuzz::run(&workspace_root(), &args[1..]),
        Some("msrv") => msrv::run(&workspace_root()),
        _ => {
            eprintln!("usage: cargo xtask codegen [--check] | cargo xtask coverage | cargo xtask fuzz [--seconds N] [TARGET...] | cargo xtask msrv");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
