//! The repository's spec loads, and malformed spec files are rejected with
//! their file, line and reason.

use std::fs;
use std::path::Path;

use bolink_spec::Spec;

#[test]
fn repository_spec_loads() {
    let spec = Spec::load(bolink_spec::default_root()).unwrap_or_else(|e| panic!("{e}"));
    assert!(spec.interfaces.len() >= 4);
    assert!(spec.enum_def("pay_scene").is_some());
    let shared = spec.shared_objects();
    assert!(
        shared
            .iter()
            .any(|e| e.family == bolink_spec::model::Family::Sdk && e.name == "Ack"),
        "the acknowledgement of uploads is a shared object of the SDK family"
    );
}

fn load_with(files: &[(&str, &str)]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "bolink-spec-test-{}-{}",
        std::process::id(),
        files[0].0.replace('/', "_")
    ));
    let _ = fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let result = Spec::load(&dir);
    let _ = fs::remove_dir_all(&dir);
    match result {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

const HEADER: &str = r#"
service_name = "x"
document = "sdk"
section = "9.9"
title = "t"
title_en = "t"
direction = "upstream"
status = "complete"
"#;

#[test]
fn unknown_key_names_file_and_line() {
    let text = format!("{HEADER}\n[roles.request]\nfields = [\n  {{ name = \"a\", type = \"string\", requird = \"always\" }},\n]\n");
    let err = load_with(&[("sdk/9.9_x.toml", &text)]);
    assert!(
        err.starts_with(&format!("{}:", Path::new("sdk/9.9_x.toml").display())),
        "{err}"
    );
    assert!(err.contains(":12:"), "line of the bad row: {err}");
    assert!(err.contains("requird"), "{err}");
}

#[test]
fn unknown_type_is_rejected() {
    let text = format!("{HEADER}\n[roles.request]\nfields = [{{ name = \"a\", type = \"strin\", required = \"always\" }}]\n");
    let err = load_with(&[("sdk/9.9_y.toml", &text)]);
    assert!(err.contains("strin"), "{err}");
}

#[test]
fn rule_on_missing_field_is_rejected_with_line() {
    let text = format!("{HEADER}\n[roles.request]\nfields = [\n  {{ name = \"a\", type = \"string\", required = {{ when = \"nope\", in = [1] }} }},\n]\n");
    let err = load_with(&[("sdk/9.9_z.toml", &text)]);
    assert!(err.contains(":12:") && err.contains("`nope`"), "{err}");
}

#[test]
fn unknown_enum_is_rejected() {
    let text = format!("{HEADER}\n[roles.request]\nfields = [{{ name = \"a\", type = \"enum\", enum = \"colour\", required = \"always\" }}]\n");
    let err = load_with(&[("sdk/9.9_w.toml", &text)]);
    assert!(err.contains("unknown enum `colour`"), "{err}");
}

#[test]
fn file_in_wrong_folder_is_rejected() {
    let text = format!("{HEADER}\n[roles.request]\nfields = [{{ name = \"a\", type = \"string\", required = \"always\" }}]\n");
    let err = load_with(&[("newapi/9.9_v.toml", &text)]);
    assert!(err.contains("must live in protocol-spec/sdk/"), "{err}");
}

#[test]
fn shared_objects_live_in_a_family_file() {
    let text = "[objects.Ack]\nlabel = \"a\"\nsource = \"s\"\nfields = [{ name = \"errmsg\", type = \"string\", required = \"optional\" }]\n";
    let err = load_with(&[("definitions/common.toml", text)]);
    assert!(err.contains("definitions/sdk.toml"), "{err}");
}

#[test]
fn shared_objects_have_no_service_name_and_checked_rules() {
    let text = "[objects.Ack]\nlabel = \"a\"\nsource = \"s\"\nfields = [\n  { name = \"service_name\", type = \"service_name\", required = \"optional\" },\n  { name = \"errmsg\", type = \"string\", required = { when = \"state\", in = [0] } },\n]\n";
    let err = load_with(&[("definitions/sdk.toml", text)]);
    assert!(
        err.contains(":5:") && err.contains("no service_name of its own"),
        "{err}"
    );
    assert!(
        err.contains(":6:") && err.contains("`state`, not a field"),
        "{err}"
    );
}

#[test]
fn shared_objects_say_where_their_shape_comes_from() {
    let text = "[objects.ack]\nlabel = \"a\"\nsource = \" \"\nfields = [{ name = \"errmsg\", type = \"string\", required = \"optional\" }]\n";
    let err = load_with(&[("definitions/newapi.toml", text)]);
    assert!(
        err.contains("PascalCase") && err.contains("`source`"),
        "{err}"
    );
}

#[test]
fn request_rules_name_a_field_of_the_request_and_live_in_answers() {
    let request = "[roles.request]\nfields = [{ name = \"pay_scene\", type = \"integer\", required = \"always\" }]\n";
    let answer = |rule: &str| {
        format!("{HEADER}\n{request}[roles.sdk_return]\nfields = [{{ name = \"q\", type = \"string\", required = {rule} }}]\n")
    };
    let ok = answer("{ request_when = \"pay_scene\", in = [1, 2] }");
    assert_eq!(load_with(&[("sdk/9.9_r1.toml", &ok)]), "");
    let unknown = answer("{ request_when = \"pay_scen\", in = [1] }");
    let err = load_with(&[("sdk/9.9_r2.toml", &unknown)]);
    assert!(
        err.contains("`pay_scen`, not a field of this interface's request"),
        "{err}"
    );
    let wrong_code = answer("{ request_when = \"pay_scene\", in = [\"1\"] }");
    let err = load_with(&[("sdk/9.9_r3.toml", &wrong_code)]);
    assert!(err.contains("does not fit `pay_scene`"), "{err}");
    // In the request itself, there is no request to look at.
    let misplaced = format!("{HEADER}\n[roles.request]\nfields = [\n  {{ name = \"pay_scene\", type = \"integer\", required = \"always\" }},\n  {{ name = \"q\", type = \"string\", required = {{ request_when = \"pay_scene\", in = [1] }} }},\n]\n");
    let err = load_with(&[("sdk/9.9_r4.toml", &misplaced)]);
    assert!(err.contains("belongs in an answer's table"), "{err}");
}

#[test]
fn a_from_code_spec_gives_the_source_of_every_row() {
    let header = HEADER.replace(
        "status = \"complete\"",
        "status = \"from_code\"\nmissing = [\"no page\"]",
    );
    let code = "source = { code = { repo = \"o/r\", commit = \"abc\", path = \"A.java\", line = 7, type_in_code = \"getString\" } }";
    let ok = format!("{header}\n[roles.request]\nfields = [{{ name = \"a\", type = \"string\", required = \"optional\", {code} }}]\n");
    assert_eq!(load_with(&[("sdk/9.9_c1.toml", &ok)]), "");
    let page_row = format!("{header}\n[roles.request]\nfields = [\n  {{ name = \"a\", type = \"string\", required = \"optional\", {code} }},\n  {{ name = \"b\", type = \"string\", required = \"optional\" }},\n]\n");
    let err = load_with(&[("sdk/9.9_c2.toml", &page_row)]);
    assert!(
        err.contains("field `b`: a from_code spec has no page rows"),
        "{err}"
    );
    let bad_source = format!("{header}\n[roles.request]\nfields = [{{ name = \"a\", type = \"string\", required = \"optional\", source = {{ code = {{ repo = \"o/r\" }} }} }}]\n");
    assert!(!load_with(&[("sdk/9.9_c3.toml", &bad_source)]).is_empty());
}

#[test]
fn every_row_learnt_from_code_names_its_source() {
    use bolink_spec::model::{Completeness, FieldSource};
    let spec = Spec::load(bolink_spec::default_root()).unwrap_or_else(|e| panic!("{e}"));
    let mut unsourced = Vec::new();
    let mut from_code = 0;
    for file in &spec.interfaces {
        let iface = &file.value;
        let fields = iface
            .roles
            .values()
            .flat_map(|role| &role.fields)
            .chain(iface.objects.values().flat_map(|object| &object.fields));
        for field in fields {
            let says_code = field
                .note
                .as_deref()
                .is_some_and(|note| note.to_lowercase().contains("from public code"));
            match field.provenance() {
                FieldSource::Page(_) if says_code => {
                    unsourced.push(format!("{}: {}", file.path.display(), field.name.get_ref()))
                }
                FieldSource::Code { code } => {
                    from_code += 1;
                    assert!(
                        code.commit.len() == 40 && code.line > 0,
                        "{}: {}: a source names its commit and line",
                        file.path.display(),
                        field.name.get_ref()
                    );
                }
                _ => {}
            }
        }
        if iface.status == Completeness::FromCode {
            assert!(!iface.missing.is_empty(), "{}", file.path.display());
        }
    }
    assert!(
        unsourced.is_empty(),
        "rows that say they come from code but give no source: {unsourced:#?}"
    );
    assert!(from_code >= 100, "{from_code} rows from code");
}
