//! The Bolink protocol spec: one TOML file per interface, shared enum and
//! message-shape definitions, and an index of each document's table of
//! contents.
//!
//! This crate reads and checks the spec; `cargo xtask codegen` turns it into
//! Rust types and tests read its examples. The format is defined in
//! `protocol-spec/README.md`.
//!
//! ```no_run
//! let spec = bolink_spec::Spec::load(bolink_spec::default_root()).unwrap();
//! for file in &spec.interfaces {
//!     println!("{} {}", file.value.section, file.value.title);
//! }
//! ```

#![deny(missing_docs)]

mod check;
mod error;
mod load;
pub mod model;

use std::path::{Path, PathBuf};

pub use error::{SpecError, SpecErrors};
use model::{DefinitionsFile, EnumDef, Family, IndexFile, InterfaceFile, SharedObject};

/// A parsed file with its path (relative to the spec root) and text.
#[derive(Debug, Clone)]
pub struct LoadedFile<T> {
    /// Path relative to the spec root, e.g. `sdk/3.1_query_price.toml`.
    pub path: PathBuf,
    /// The file's text, kept for line numbers.
    pub text: String,
    /// The parsed content.
    pub value: T,
}

/// The whole spec, loaded and checked.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The folder the spec was read from.
    pub root: PathBuf,
    /// Every interface file, sorted by document then file name.
    pub interfaces: Vec<LoadedFile<InterfaceFile>>,
    /// Every definitions file.
    pub definitions: Vec<LoadedFile<DefinitionsFile>>,
    /// Every table-of-contents index.
    pub indexes: Vec<LoadedFile<IndexFile>>,
}

impl Spec {
    /// Reads and checks every file under `root`; on failure returns every
    /// problem found, each with its file, line and reason.
    pub fn load(root: impl AsRef<Path>) -> Result<Spec, SpecErrors> {
        load::load(root.as_ref(), None)
    }

    /// Reads and checks a spec of one's own (a vendor's private interfaces,
    /// in the same format) that extends `base` (this repository's spec,
    /// [`default_root`]): its fields may name `base`'s enums, and it may
    /// neither redefine one of them nor specify one of `base`'s services
    /// again. The result holds only the files under `root`.
    pub fn load_extending(root: impl AsRef<Path>, base: &Spec) -> Result<Spec, SpecErrors> {
        load::load(root.as_ref(), Some(base))
    }

    /// Looks up an enum definition by name.
    pub fn enum_def(&self, name: &str) -> Option<&EnumDef> {
        self.definitions
            .iter()
            .find_map(|f| f.value.enums.get(name))
    }

    /// Every enum definition, sorted by name.
    pub fn enums(&self) -> Vec<(&str, &EnumDef)> {
        let mut all: Vec<_> = self
            .definitions
            .iter()
            .flat_map(|f| f.value.enums.iter().map(|(k, v)| (k.as_str(), v)))
            .collect();
        all.sort_by_key(|(name, _)| *name);
        all
    }

    /// Every shared object with its family and definitions file, by family
    /// then name.
    pub fn shared_objects(&self) -> Vec<SharedEntry<'_>> {
        let mut all: Vec<SharedEntry<'_>> = self
            .definitions
            .iter()
            .filter_map(|f| Family::of_definitions(&f.path).map(|family| (family, f)))
            .flat_map(|(family, f)| {
                f.value
                    .objects
                    .iter()
                    .map(move |(name, object)| SharedEntry {
                        family,
                        name,
                        object,
                        path: &f.path,
                    })
            })
            .collect();
        all.sort_by_key(|e| (e.family, e.name));
        all
    }
}

/// One shared object of [`Spec::shared_objects`].
#[derive(Debug, Clone, Copy)]
pub struct SharedEntry<'a> {
    /// The family whose module holds it.
    pub family: Family,
    /// Its Rust type name.
    pub name: &'a str,
    /// The definition.
    pub object: &'a SharedObject,
    /// The definitions file, relative to the spec root.
    pub path: &'a Path,
}

/// The spec folder of this repository (`protocol-spec/`).
pub fn default_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
