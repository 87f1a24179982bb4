//! `cargo xtask msrv`: checks that the workspace's `rust-version` is true
//! for the committed lock file.
//!
//! The machine has one toolchain, so the claim cannot be proved by building
//! with the older compiler; instead every package the lock resolves to (for
//! every target platform, every dependency kind: a contributor on the MSRV
//! runs the tests too) must declare a `rust-version` no newer than ours.
//! Our own code is held to it by clippy's `incompatible_msrv` lint, which
//! reads the same field. A dependency that declares nothing is reported,
//! not failed: the ecosystem's older crates predate the field.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// A `major.minor[.patch]` version, compared numerically.
type Version = (u64, u64, u64);

fn parse(text: &str) -> Option<Version> {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

pub fn run(root: &Path) -> Result<(), String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let check = check(&metadata)?;
    println!(
        "rust-version {}: {} packages in the lock, {} declare a rust-version, none newer; {} declare none",
        check.ours, check.packages, check.declared, check.undeclared
    );
    if check.newer.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "these packages need a newer Rust than the workspace's rust-version {}:\n{}",
            check.ours,
            check.newer.join("\n")
        ))
    }
}

/// What the lock says about the claim.
#[derive(Debug, PartialEq)]
struct Check {
    ours: String,
    packages: usize,
    declared: usize,
    undeclared: usize,
    /// `name version needs X`, one per package newer than ours.
    newer: Vec<String>,
}

fn check(metadata: &Value) -> Result<Check, String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata has no packages")?;
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .ok_or("cargo metadata has no workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let rust_version = |p: &Value| p["rust_version"].as_str().map(str::to_owned);
    let ours = packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .filter_map(rust_version)
        .next()
        .ok_or("no workspace member declares a rust-version")?;
    let ours_version = parse(&ours).ok_or_else(|| format!("unreadable rust-version {ours}"))?;
    let mut check = Check {
        ours: ours.clone(),
        packages: 0,
        declared: 0,
        undeclared: 0,
        newer: Vec::new(),
    };
    for package in packages {
        check.packages += 1;
        let name = package["name"].as_str().unwrap_or("?");
        let version = package["version"].as_str().unwrap_or("?");
        match rust_version(package) {
            None => check.undeclared += 1,
            Some(needed) => {
                check.declared += 1;
                let newer = match parse(&needed) {
                    Some(v) => v > ours_version,
                    None => true,
                };
                if newer {
                    check
                        .newer
                        .push(format!("  {name} {version} needs {needed}"));
                }
            }
        }
    }
    check.newer.sort();
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(ours: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let mut packages = vec![
            serde_json::json!({"id": "me", "name": "me", "version": "0.1.0", "rust_version": ours}),
        ];
        for (name, rv) in deps {
            packages.push(serde_json::json!({"id": name, "name": name, "version": "1.0.0", "rust_version": rv}));
        }
        serde_json::json!({"packages": packages, "workspace_members": ["me"]})
    }

    #[test]
    fn a_dependency_newer_than_the_claim_is_named() {
        let check = check(&metadata(
            "1.85",
            &[
                ("icu_normalizer", Some("1.88")),
                ("old", None),
                ("ok", Some("1.70.0")),
            ],
        ))
        .unwrap();
        assert_eq!(check.newer, vec!["  icu_normalizer 1.0.0 needs 1.88"]);
        assert_eq!(
            (check.packages, check.declared, check.undeclared),
            (4, 3, 1)
        );
    }

    #[test]
    fn versions_compare_numerically_not_as_text() {
        let check = check(&metadata(
            "1.9",
            &[("a", Some("1.10")), ("b", Some("1.9.0"))],
        ))
        .unwrap();
        assert_eq!(check.newer, vec!["  a 1.0.0 needs 1.10"]);
    }

    #[test]
    fn an_unreadable_rust_version_fails_the_check() {
        let check = check(&metadata("1.88", &[("weird", Some("soon"))])).unwrap();
        assert_eq!(check.newer.len(), 1);
    }
}
