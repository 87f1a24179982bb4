//! `cargo xtask fuzz [--seconds N] [TARGET...]`: seeds each cargo-fuzz
//! target's corpus from the documents' examples in `protocol-spec/`, runs
//! each target for N seconds (default 60) and prints executions and findings.
//!
//! Needs `cargo install cargo-fuzz`. The targets are built with
//! `--sanitizer none` and `RUSTC_BOOTSTRAP=1` so that the stable toolchain
//! can build libFuzzer's instrumentation; a crash leaves its input under
//! `fuzz/artifacts/<target>/` and is reported here.

use std::fs;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use bolink_spec::Spec;

const TARGETS: &[&str] = &["envelopes", "messages", "validate"];

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut seconds = 60u64;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds needs a number")?;
            }
            target if TARGETS.contains(&target) => targets.push(target.to_string()),
            other => {
                return Err(format!(
                    "unknown fuzz argument {other:?}; targets: {}",
                    TARGETS.join(", ")
                ))
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    let spec = Spec::load(root.join("protocol-spec")).map_err(|e| e.to_string())?;
    let seeds = seeds(&spec);
    let mut summary = Vec::new();
    for target in &targets {
        let corpus = root.join("fuzz/corpus").join(target);
        fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let inputs = seeds
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, bytes)| bytes);
        for (n, bytes) in inputs.enumerate() {
            let path = corpus.join(format!("seed-{n:04}"));
            fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        summary.push(run_target(root, target, seconds)?);
    }
    println!("\ntarget        seconds  executions  exec/s  findings");
    for line in &summary {
        println!("{line}");
    }
    if summary.iter().any(|line| !line.ends_with(" 0")) {
        return Err("fuzzing found crashes: see fuzz/artifacts/".into());
    }
    Ok(())
}

/// (target, input) pairs built from every example of the spec.
fn seeds(spec: &Spec) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    for file in &spec.interfaces {
        let iface = &file.value;
        let Some(key) = iface
            .service_name
            .clone()
            .or_else(|| iface.url_path.clone())
        else {
            continue;
        };
        for (role, table) in &iface.roles {
            for example in &table.examples {
                for text in std::iter::once(&example.text).chain(example.corrected.as_ref()) {
                    out.push((
                        "messages".into(),
                        format!("{} {key}\n{text}", role.as_str()).into_bytes(),
                    ));
                    out.push(("validate".into(), text.clone().into_bytes()));
                    let sign = "0".repeat(32);
                    let sdk = format!(
                        r#"{{"service_name":"{key}","sign":"{sign}","token":"t","data":{text}}}"#
                    );
                    let newapi = format!(r#"{{"data":{text},"sign":"{sign}","union_id":200208}}"#);
                    out.push(("envelopes".into(), sdk.into_bytes()));
                    out.push(("envelopes".into(), b64.encode(&newapi).into_bytes()));
                    out.push(("envelopes".into(), newapi.into_bytes()));
                }
            }
        }
    }
    out
}

/// Runs one target; returns its summary line.
fn run_target(root: &Path, target: &str, seconds: u64) -> Result<String, String> {
    eprintln!("fuzzing {target} for {seconds} s");
    let corpus = format!("fuzz/corpus/{target}");
    let output = Command::new("cargo")
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", "--sanitizer", "none", target, &corpus, "--"])
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .output()
        .map_err(|e| format!("cannot run cargo fuzz (cargo install cargo-fuzz): {e}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let stat = |name: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let executions = stat("number_of_executed_units");
    let findings = if output.status.success() { 0 } else { 1 };
    if findings > 0 && executions.is_none() {
        return Err(format!("cargo fuzz run {target} failed:\n{log}"));
    }
    let executions = executions.unwrap_or(0);
    let per_second = executions / seconds.max(1);
    Ok(format!(
        "{target:<13} {seconds:>7}  {executions:>10}  {per_second:>6}  {findings}"
    ))
}
