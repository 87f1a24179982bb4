//! Reading the spec tree from disk.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{SpecError, SpecErrors};
use crate::model::{DefinitionsFile, Document, IndexFile, InterfaceFile};
use crate::{LoadedFile, Spec};

/// Reads every spec file under `root`, then checks the whole tree (with
/// `base`'s enums and services known, for a spec that extends it).
pub(crate) fn load(root: &Path, base: Option<&Spec>) -> Result<Spec, SpecErrors> {
    let mut errors = Vec::new();
    let mut spec = Spec {
        root: root.to_path_buf(),
        interfaces: Vec::new(),
        definitions: Vec::new(),
        indexes: Vec::new(),
    };
    for path in toml_files(&root.join("definitions"), &mut errors) {
        if let Some(file) = parse_file::<DefinitionsFile>(root, &path, &mut errors) {
            spec.definitions.push(file);
        }
    }
    for path in toml_files(&root.join("index"), &mut errors) {
        if let Some(file) = parse_file::<IndexFile>(root, &path, &mut errors) {
            spec.indexes.push(file);
        }
    }
    for document in Document::ALL {
        for path in toml_files(&root.join(document.dir()), &mut errors) {
            if let Some(file) = parse_file::<InterfaceFile>(root, &path, &mut errors) {
                spec.interfaces.push(file);
            }
        }
    }
    if errors.is_empty() {
        crate::check::check(&spec, base, &mut errors);
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(SpecErrors(errors))
    }
}

/// The `.toml` files of one folder, sorted so that output is deterministic.
fn toml_files(dir: &Path, errors: &mut Vec<SpecError>) -> Vec<PathBuf> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // A document folder may not exist yet; the index reports what is missing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            errors.push(SpecError::new(
                dir,
                None,
                format!("cannot read folder: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

fn parse_file<T: DeserializeOwned>(
    root: &Path,
    path: &Path,
    errors: &mut Vec<SpecError>,
) -> Option<LoadedFile<T>> {
    let relative = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(SpecError::new(&relative, None, format!("cannot read: {e}")));
            return None;
        }
    };
    match toml::from_str::<T>(&text) {
        Ok(value) => Some(LoadedFile {
            path: relative,
            text,
            value,
        }),
        Err(e) => {
            let line = e.span().map(|span| line_of(&text, span.start));
            errors.push(SpecError::new(&relative, line, e.message().to_string()));
            None
        }
    }
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
