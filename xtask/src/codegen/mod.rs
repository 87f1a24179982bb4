//! `cargo xtask codegen`: the spec in, Rust source under
//! `bolink-types/src/generated/` out (the generator is the bolink-codegen
//! crate; this writes or checks its files).
//!
//! Every file is built as tokens with `quote!`, printed with prettyplease
//! (deterministic, so `--check` does not depend on the local rustfmt) and
//! prefixed with a header saying it is generated. In check mode nothing is
//! written: the first stale, missing or extra file is named.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use bolink_codegen::{workspace_files, GENERATED};
use bolink_spec::Spec;

pub fn run(root: &Path, check: bool) -> Result<(), String> {
    let spec = Spec::load(root.join("protocol-spec")).map_err(|e| e.to_string())?;
    let files = workspace_files(&spec)?;
    if check {
        check_files(root, &files)
    } else {
        write_files(root, &files)
    }
}

fn write_files(root: &Path, files: &BTreeMap<PathBuf, String>) -> Result<(), String> {
    let mut written = 0;
    for (path, text) in files {
        let target = root.join(path);
        if fs::read_to_string(&target).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&target, text).map_err(|e| format!("{}: {e}", target.display()))?;
        written += 1;
    }
    let mut removed = 0;
    for stale in existing_files(root)? {
        if !files.contains_key(&stale) {
            fs::remove_file(root.join(&stale)).map_err(|e| format!("{}: {e}", stale.display()))?;
            removed += 1;
        }
    }
    eprintln!(
        "codegen: {} files, {written} written, {removed} removed",
        files.len()
    );
    Ok(())
}

fn check_files(root: &Path, files: &BTreeMap<PathBuf, String>) -> Result<(), String> {
    for (path, text) in files {
        let target = root.join(path);
        match fs::read_to_string(&target) {
            Ok(current) if current == *text => {}
            Ok(_) => return Err(stale(path, "was not up-to-date")),
            Err(_) => return Err(stale(path, "is missing")),
        }
    }
    for existing in existing_files(root)? {
        if !files.contains_key(&existing) {
            return Err(stale(&existing, "is no longer generated"));
        }
    }
    Ok(())
}

fn stale(path: &Path, what: &str) -> String {
    format!(
        "{} {what}, run `cargo xtask codegen` and commit the result",
        path.display()
    )
}

/// The `.rs` files under the generated folder, relative to the root.
fn existing_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![root.join(GENERATED)];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_path_buf());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// `cargo test` fails when the checked-in generated code is stale.
    #[test]
    fn generated_code_is_fresh() {
        if let Err(message) = super::run(&crate::workspace_root(), true) {
            panic!("{message}");
        }
    }
}
