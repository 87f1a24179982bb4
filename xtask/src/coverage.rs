//! `cargo xtask coverage`: for each document, how many table-of-contents
//! entries the spec has in full, in part, or not at all, and why.

use std::collections::BTreeSet;
use std::path::Path;

use bolink_spec::model::{Document, EntryStatus};
use bolink_spec::Spec;

pub fn run(root: &Path) -> Result<(), String> {
    let spec = Spec::load(root.join("protocol-spec")).map_err(|e| e.to_string())?;
    print!("{}", report(&spec));
    Ok(())
}

/// The coverage report as text.
pub fn report(spec: &Spec) -> String {
    let mut out = String::new();
    out.push_str("document   listed  specified  partial  missing  protocol  (not interfaces)\n");
    let mut details = String::new();
    let mut referenced = BTreeSet::new();
    let (mut total_listed, mut total_specified, mut total_partial, mut total_missing) =
        (0, 0, 0, 0);
    for document in Document::ALL {
        let entries: Vec<_> = spec
            .indexes
            .iter()
            .filter(|i| i.value.document == document)
            .flat_map(|i| &i.value.entries)
            .collect();
        let count = |status: EntryStatus| entries.iter().filter(|e| e.status == status).count();
        let specified = count(EntryStatus::Specified);
        let partial = count(EntryStatus::Partial);
        let missing = count(EntryStatus::NotPublic);
        let protocol = count(EntryStatus::Protocol);
        let other = count(EntryStatus::NotAnInterface);
        let listed = specified + partial + missing + protocol;
        total_listed += listed;
        total_specified += specified;
        total_partial += partial;
        total_missing += missing;
        out.push_str(&format!(
            "{:<10} {listed:>6}  {specified:>9}  {partial:>7}  {missing:>7}  {protocol:>8}  ({other})\n",
            document.dir()
        ));
        for entry in &entries {
            if let Some(path) = &entry.spec {
                referenced.insert(path.clone());
            }
            let label = match entry.status {
                EntryStatus::Partial => "partial",
                EntryStatus::NotPublic => "missing",
                _ => continue,
            };
            let name = entry
                .service_name
                .as_deref()
                .or(entry.url_path.as_deref())
                .unwrap_or("-");
            let reason = entry.reason.as_deref().unwrap_or("");
            details.push_str(&format!(
                "  {:<8} {:<7} {:<7} {name}: {}\n           {reason}\n",
                document.dir(),
                entry.section,
                label,
                entry.title
            ));
        }
    }
    out.push_str(&format!(
        "{:<10} {total_listed:>6}  {total_specified:>9}  {total_partial:>7}  {total_missing:>7}\n",
        "all"
    ));
    let unindexed: Vec<String> = spec
        .interfaces
        .iter()
        .map(|i| i.path.display().to_string())
        .filter(|p| !referenced.contains(p))
        .collect();
    if !unindexed.is_empty() {
        out.push_str(&format!(
            "\nspec files no index entry points at: {}\n",
            unindexed.join(", ")
        ));
    }
    out.push_str("\npartial and missing entries, with the reason:\n");
    out.push_str(&details);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_file_is_in_an_index_and_every_count_adds_up() {
        let spec = Spec::load(crate::workspace_root().join("protocol-spec"))
            .unwrap_or_else(|e| panic!("{e}"));
        let text = report(&spec);
        assert!(!text.contains("no index entry points at"), "{text}");
        let indexed: usize = spec.indexes.iter().map(|i| i.value.entries.len()).sum();
        assert!(
            indexed > 150,
            "the three tables of contents are indexed ({indexed} entries)"
        );
    }
}
