//! The corpus of real messages (`tests/corpus/`): every message instance
//! found in the documents' pages and in public code that speaks the
//! protocol, kept verbatim with its provenance and the outcome the
//! validator must give it (valid or its violations, and the lenient
//! readings, "slips", it takes to read it). See `tests/corpus/README.md`.
//!
//! `tests/corpus/instances.txt` lists every instance found; each is either
//! used by an entry or listed, with its reason, in the README's "Not used"
//! table. With `BOLINK_REFERENCE` set to the folder of collected reference
//! material, the list is also checked against that folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bolink_types::catalog::Family;
use bolink_types::validate::{validate, Validation};
use bolink_types::{DecodeError, Decoded, Role, Slip, SHARED_OBJECTS};
use serde::Deserialize;

/// What a check found, reduced to what the corpus compares: the sorted
/// violations and the sorted paths of the lenient readings.
fn outcome_of(v: &Validation) -> Outcome {
    let slips = Some(v.slips().iter().map(|s| s.path.clone()).collect());
    match v {
        Validation::Valid { .. } => Outcome::checked(Vec::new(), slips),
        Validation::Violations { report, .. } => Outcome::checked(
            report.violations.iter().map(|v| v.to_string()).collect(),
            slips,
        ),
        Validation::Malformed(e) => Outcome::malformed(malformed_name(e)),
    }
}

/// A shared object (`sdk::Ack`) is read through its catalog entry.
fn shared_outcome(result: Result<Decoded<Vec<u8>>, DecodeError>) -> Outcome {
    let paths = |slips: &[Slip]| Some(slips.iter().map(|s| s.path.clone()).collect());
    match result {
        Ok(decoded) => Outcome::checked(Vec::new(), paths(&decoded.slips)),
        Err(DecodeError::Invalid { report, slips }) => Outcome::checked(
            report.violations.iter().map(|v| v.to_string()).collect(),
            paths(&slips),
        ),
        Err(e) => Outcome::malformed(malformed_name(&e)),
    }
}

fn malformed_name(e: &DecodeError) -> String {
    match e {
        DecodeError::Syntax { .. } => "syntax".into(),
        other => format!("{other}"),
    }
}

#[derive(Debug, PartialEq)]
struct Outcome {
    /// Sorted violations as the validator prints them.
    violations: Vec<String>,
    /// Sorted slip paths, when the validator reports them.
    slips: Option<Vec<String>>,
    /// Why the bytes could not be checked at all.
    malformed: Option<String>,
}

impl Outcome {
    fn checked(mut violations: Vec<String>, slips: Option<Vec<String>>) -> Outcome {
        violations.sort();
        Outcome {
            violations,
            slips: slips.map(|mut s| {
                s.sort();
                s
            }),
            malformed: None,
        }
    }

    fn malformed(what: String) -> Outcome {
        Outcome {
            violations: Vec::new(),
            slips: None,
            malformed: Some(what),
        }
    }
}

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    /// What the file holds.
    about: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    /// The instances of the reference material this entry is (`instances.txt`).
    reference: Vec<String>,
    source: Source,
    kind: InstanceKind,
    family: String,
    role: String,
    /// The service the message is read as (its `service_name`, or the URL
    /// path of a new-API interface addressed by path).
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    key: Option<String>,
    /// A message shape shared by many services (`Ack`), read as that shape.
    #[serde(default)]
    shared: Option<String>,
    envelope: EnvelopeKind,
    /// For a filled template: what was filled in, and with what.
    #[serde(default)]
    filled: Option<String>,
    #[serde(default)]
    note: Option<String>,
    message: String,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    line: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    section: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum InstanceKind {
    Captured,
    TemplateFilled,
    PageExample,
    CommentInstance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum EnvelopeKind {
    None,
    SdkHttp,
    Newapi,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    valid: bool,
    #[serde(default)]
    violations: Vec<String>,
    #[serde(default)]
    slips: Vec<String>,
    /// For bytes that cannot be checked: `syntax` or the error's text.
    #[serde(default)]
    malformed: Option<String>,
    /// Why, for every violation, every slip and a malformed outcome.
    #[serde(default)]
    why: BTreeMap<String, String>,
}

fn corpus_files() -> Vec<(PathBuf, CorpusFile)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(CORPUS_DIR)
        .expect("tests/corpus is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a corpus file is readable");
            let file: CorpusFile =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, file)
        })
        .collect()
}

fn family_of(name: &str) -> Option<Family> {
    match name {
        "sdk" => Some(Family::Sdk),
        "newapi" => Some(Family::Newapi),
        _ => None,
    }
}

/// The bytes the validator reads: the message itself, or the `data` of
/// its envelope (with the envelope's `service_name`, when it has one).
fn data_of(entry: &Entry) -> Result<(Vec<u8>, Option<String>), String> {
    let bytes = entry.message.as_bytes();
    match entry.envelope {
        EnvelopeKind::None => Ok((bytes.to_vec(), None)),
        EnvelopeKind::SdkHttp => {
            let env = bolink_sign::sdk_http::Envelope::parse(bytes)
                .map_err(|e| format!("envelope: {e}"))?;
            Ok((
                env.data_bytes().to_vec(),
                Some(env.service_name.to_string()),
            ))
        }
        EnvelopeKind::Newapi => {
            let (json, _) =
                bolink_sign::newapi::decode_body(bytes).map_err(|e| format!("envelope: {e}"))?;
            let env = bolink_sign::newapi::Envelope::parse(&json)
                .map_err(|e| format!("envelope: {e}"))?;
            // Either kind of envelope reads the same through parse_any.
            let any = bolink_sign::parse_any(bytes).map_err(|e| format!("envelope: {e}"))?;
            if any.envelope().data_bytes() != env.data_bytes() {
                return Err("parse_any reads another data object".into());
            }
            Ok((env.data_bytes().to_vec(), None))
        }
    }
}

/// What the validator makes of an entry.
fn check(entry: &Entry) -> Result<Outcome, String> {
    let family = family_of(&entry.family).ok_or("family is sdk or newapi")?;
    let role: Role = entry.role.parse().map_err(|e| format!("{e}"))?;
    let (data, envelope_service) = match data_of(entry) {
        Ok(found) => found,
        Err(what) => return Ok(Outcome::malformed(what)),
    };
    if let Some(shared) = &entry.shared {
        let info = SHARED_OBJECTS
            .iter()
            .find(|i| i.family == family && i.name == shared)
            .ok_or_else(|| format!("no shared object {shared} in {family}"))?;
        return Ok(shared_outcome((info.reencode)(&data)));
    }
    let key = entry
        .service_name
        .as_deref()
        .or(entry.key.as_deref())
        .ok_or("an entry names its service_name or key")?;
    if let Some(sent) = envelope_service {
        if sent != key {
            return Err(format!(
                "the envelope's service_name is {sent:?}, the entry reads it as {key:?}"
            ));
        }
    }
    Ok(outcome_of(&validate(role, Some(family), Some(key), &data)))
}

/// How an entry's expectation and the validator's outcome differ.
fn disagreement(entry: &Entry, got: &Outcome) -> Option<String> {
    let mut expected_violations = entry.expect.violations.clone();
    expected_violations.sort();
    let mut expected_slips = entry.expect.slips.clone();
    expected_slips.sort();
    let mut problems = Vec::new();
    if got.malformed != entry.expect.malformed {
        problems.push(format!(
            "malformed: expected {:?}, got {:?}",
            entry.expect.malformed, got.malformed
        ));
    }
    if got.violations != expected_violations {
        problems.push(format!(
            "violations: expected {expected_violations:?}, got {:?}",
            got.violations
        ));
    }
    if let Some(slips) = &got.slips {
        if *slips != expected_slips {
            problems.push(format!("slips: expected {expected_slips:?}, got {slips:?}"));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[test]
fn every_corpus_entry_validates_as_expected() {
    let mut disagreed = Vec::new();
    let mut checked = 0;
    for (path, file) in corpus_files() {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        for entry in &file.entries {
            checked += 1;
            match check(entry) {
                Ok(got) => {
                    if let Some(problem) = disagreement(entry, &got) {
                        disagreed.push(format!("{name} {}: {problem}", entry.id));
                    }
                }
                Err(problem) => disagreed.push(format!("{name} {}: {problem}", entry.id)),
            }
        }
    }
    assert!(
        disagreed.is_empty(),
        "{} of {checked} corpus entries disagree with the validator:\n{}",
        disagreed.len(),
        disagreed.join("\n")
    );
    assert!(checked >= 50, "the corpus has its entries ({checked})");
}

const ROLES: [&str; 6] = [
    "request",
    "http-request",
    "sdk-return",
    "http-return",
    "async-result",
    "response",
];

/// Problems with one entry's own form: what the README promises of every
/// entry.
fn form_problems(entry: &Entry, instances: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |what: String| problems.push(format!("{}: {what}", entry.id));
    if family_of(&entry.family).is_none() {
        problem(format!("family {:?}", entry.family));
    }
    if !ROLES.contains(&entry.role.as_str()) {
        problem(format!("role {:?}", entry.role));
    }
    let keys = [&entry.service_name, &entry.key, &entry.shared]
        .iter()
        .filter(|k| k.is_some())
        .count();
    if keys != 1 {
        problem("names exactly one of service_name, key, shared".into());
    }
    let s = &entry.source;
    let code = s.repo.is_some() && s.commit.is_some() && s.path.is_some() && s.line.is_some();
    let page = s.url.is_some() && s.section.is_some();
    if code == page || (page && (s.repo.is_some() || s.commit.is_some() || s.path.is_some())) {
        problem("source is repo, commit, path and line, or url and section".into());
    }
    if code && s.commit.as_ref().is_some_and(|c| c.len() != 40) {
        problem("source commit is a full hash".into());
    }
    match entry.kind {
        InstanceKind::PageExample if !page => problem("a page example comes from a page".into()),
        InstanceKind::Captured | InstanceKind::TemplateFilled | InstanceKind::CommentInstance
            if !code =>
        {
            problem("an instance from code names its repository".into())
        }
        _ => {}
    }
    if (entry.kind == InstanceKind::TemplateFilled) != entry.filled.is_some() {
        problem("`filled` says what was filled in, for filled templates only".into());
    }
    let expect = &entry.expect;
    let outcome_valid = expect.violations.is_empty() && expect.malformed.is_none();
    if expect.valid != outcome_valid {
        problem(
            "valid is true exactly when there are no violations and it is not malformed".into(),
        );
    }
    let mut explained: BTreeSet<&str> = expect
        .violations
        .iter()
        .chain(&expect.slips)
        .map(String::as_str)
        .collect();
    if let Some(m) = &expect.malformed {
        explained.insert(m.as_str());
    }
    let why: BTreeSet<&str> = expect.why.keys().map(String::as_str).collect();
    if explained != why {
        problem(format!(
            "why explains exactly every violation, slip and malformed outcome: missing {:?}, extra {:?}",
            explained.difference(&why).collect::<Vec<_>>(),
            why.difference(&explained).collect::<Vec<_>>()
        ));
    }
    if expect.why.values().any(|w| w.trim().is_empty()) {
        problem("an empty why".into());
    }
    if entry.reference.is_empty() {
        problem("names the instance(s) it is".into());
    }
    for r in &entry.reference {
        if !instances.contains(r) {
            problem(format!("reference {r:?} is not in instances.txt"));
        }
    }
    if entry.message.is_empty() {
        problem("has a message".into());
    }
    if entry.note.as_ref().is_some_and(|n| n.trim().is_empty()) {
        problem("an empty note".into());
    }
    problems
}

/// `instances.txt`: one instance locator a line, `#` comments.
fn instances() -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(CORPUS_DIR).join("instances.txt"))
        .expect("instances.txt is readable");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The README's "Not used" table: `| locator | reason |` rows.
fn not_used() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(Path::new(CORPUS_DIR).join("README.md"))
        .expect("README.md is readable");
    let section = text
        .split("## Not used")
        .nth(1)
        .expect("the README has a \"Not used\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let locator = cells[0].trim_matches('`').to_string();
            let reason = cells.get(1).copied().unwrap_or_default().to_string();
            (locator, reason)
        })
        .collect()
}

#[test]
fn every_entry_is_well_formed() {
    let instances = instances();
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for (path, file) in corpus_files() {
        if file.about.trim().is_empty() {
            problems.push(format!(
                "{}: says what it holds",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
        for entry in &file.entries {
            if !ids.insert(entry.id.clone()) {
                problems.push(format!("{}: id used twice", entry.id));
            }
            problems.extend(form_problems(entry, &instances));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_instance_found_is_used_or_said_not_to_be() {
    let instances = instances();
    let not_used = not_used();
    let used: BTreeSet<String> = corpus_files()
        .iter()
        .flat_map(|(_, f)| f.entries.iter().flat_map(|e| e.reference.iter().cloned()))
        .collect();
    let mut problems = Vec::new();
    for locator in &instances {
        match (used.contains(locator), not_used.get(locator)) {
            (false, None) => {
                problems.push(format!("{locator}: neither used nor listed as not used"))
            }
            (true, Some(_)) => problems.push(format!("{locator}: used, and listed as not used")),
            (false, Some(reason)) if reason.is_empty() => {
                problems.push(format!("{locator}: not used, without a reason"))
            }
            _ => {}
        }
    }
    for locator in not_used.keys() {
        if !instances.contains(locator) {
            problems.push(format!(
                "{locator}: listed as not used, missing from instances.txt"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The instances the reference material records, by the same reading that
/// made `instances.txt`: every page example, every reply a program builds,
/// every note or caveat about a captured message or a data instance, and
/// every observation of code that builds a whole message.
fn reference_instances(root: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for family in ["sdk", "newapi"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(family))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if !name.ends_with(".json") || name.starts_with('_') {
                continue;
            }
            let file = format!("{family}/{name}");
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            for (m, message) in doc["messages"].as_array().into_iter().flatten().enumerate() {
                for (e, _) in message["examples"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    found.insert(format!("{file}#messages[{m}].examples[{e}]"));
                }
            }
            let observations = doc["code_observations"]["observations"].as_array();
            for obs in observations.into_iter().flatten() {
                let id = obs["id"].as_str().unwrap_or_default();
                if let Some(replies) = obs["reply_built_by_code"].as_object() {
                    for key in replies.keys().filter(|k| *k != "line") {
                        found.insert(format!("{file}#{id}:reply:{key}"));
                    }
                }
                for (n, note) in obs["notes"].as_array().into_iter().flatten().enumerate() {
                    if mentions_an_instance(note.as_str().unwrap_or_default()) {
                        found.insert(format!("{file}#{id}:notes[{n}]"));
                    }
                }
                if obs["caveat"].as_str().is_some_and(mentions_an_instance) {
                    found.insert(format!("{file}#{id}:caveat"));
                }
                let role = obs["role"].as_str().unwrap_or_default();
                let code_kind = obs["code_kind"].as_str().unwrap_or_default();
                if builds_a_message(role, code_kind) {
                    found.insert(format!("{file}#{id}:code"));
                }
            }
        }
    }
    found
}

fn mentions_an_instance(text: &str) -> bool {
    let text = text.to_lowercase();
    ["captured", "instance", "as received", "holds a", "quote"]
        .iter()
        .any(|w| text.contains(w))
}

/// Code that builds a whole message (a sender, a client's call), as
/// opposed to code that only reads one.
fn builds_a_message(role: &str, code_kind: &str) -> bool {
    let role = role.to_lowercase();
    role.starts_with("request built")
        || (role.starts_with("request") && code_kind.to_lowercase().contains("calling"))
}

#[test]
fn instances_txt_covers_the_reference_material() {
    let Some(root) = std::env::var_os("BOLINK_REFERENCE") else {
        return; // the reference material is not part of the repository
    };
    let root = PathBuf::from(root);
    let instances = instances();
    let missing: Vec<String> = reference_instances(&root)
        .into_iter()
        .filter(|base| {
            !instances
                .iter()
                .any(|i| i == base || i.starts_with(&format!("{base}/")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "instances of {} missing from tests/corpus/instances.txt:\n{}",
        root.display(),
        missing.join("\n")
    );
}
