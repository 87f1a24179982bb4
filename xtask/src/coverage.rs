//! `cargo xtask coverage`: for each document, how many table-of-contents
//! entries the spec has from the page in full, from the page in part, from
//! public code, or not at all, and why.

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
    out.push_str(
        "document   listed  page, full  page, part  from code  none  protocol  (not interfaces)\n",
    );
    let mut details = String::new();
    let mut referenced = BTreeSet::new();
    let (mut total_listed, mut total_specified, mut total_partial, mut total_code) = (0, 0, 0, 0);
    let mut total_missing = 0;
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
        let from_code = count(EntryStatus::FromCode);
        let missing = count(EntryStatus::NotPublic);
        let protocol = count(EntryStatus::Protocol);
        let other = count(EntryStatus::NotAnInterface);
        let listed = specified + partial + from_code + missing + protocol;
        total_listed += listed;
        total_specified += specified;
        total_partial += partial;
        total_code += from_code;
        total_missing += missing;
        out.push_str(&format!(
            "{:<10} {listed:>6}  {specified:>10}  {partial:>10}  {from_code:>9}  {missing:>4}  {protocol:>8}  ({other})\n",
            document.dir()
        ));
        for entry in &entries {
            if let Some(path) = &entry.spec {
                referenced.insert(path.clone());
            }
            let label = match entry.status {
                EntryStatus::Partial => "partial",
                EntryStatus::FromCode => "code",
                EntryStatus::NotPublic => "none",
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
        "{:<10} {total_listed:>6}  {total_specified:>10}  {total_partial:>10}  {total_code:>9}  {total_missing:>4}\n",
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
    out.push_str("\nentries from part of a page, from code, or with none, with the reason:\n");
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
