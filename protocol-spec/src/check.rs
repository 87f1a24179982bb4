//! Checks across files that serde cannot express: references, rule targets,
//! uniqueness, and the index pointing at real files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::SpecError;
use crate::load::line_of;
use crate::model::{
    Code, CodeKind, Completeness, DefinitionsFile, EntryStatus, EnumDef, Family, Field,
    FieldSource, FieldType, InterfaceFile, Required, RoleName,
};
use crate::{LoadedFile, Spec};

pub(crate) fn check(spec: &Spec, base: Option<&Spec>, errors: &mut Vec<SpecError>) {
    let mut enums = check_enums(spec, errors);
    let mut keys: BTreeMap<(crate::model::Family, String), &Path> = BTreeMap::new();
    // A spec of one's own extends this repository's: it may name its enums,
    // but may not redefine one of them or specify one of its services again.
    if let Some(base) = base {
        for (name, def) in base.enums() {
            if enums.insert(name, def).is_some() {
                let file = spec
                    .definitions
                    .iter()
                    .find(|f| f.value.enums.contains_key(name))
                    .map(|f| f.path.as_path())
                    .unwrap_or(Path::new("definitions"));
                errors.push(SpecError::new(
                    file,
                    None,
                    format!("enum {name} is already defined by bolink-types (use it, or name yours differently)"),
                ));
            }
        }
        for file in &base.interfaces {
            let iface = &file.value;
            let key = iface
                .service_name
                .clone()
                .or_else(|| iface.url_path.clone())
                .unwrap_or_default();
            keys.insert((iface.document.family(), key), &file.path);
        }
    }
    for file in &spec.interfaces {
        check_interface(file, &enums, errors);
        let iface = &file.value;
        let key = iface
            .service_name
            .clone()
            .or_else(|| iface.url_path.clone())
            .unwrap_or_default();
        if let Some(other) = keys.insert((iface.document.family(), key.clone()), &file.path) {
            errors.push(SpecError::new(
                &file.path,
                None,
                format!(
                    "`{key}` is already specified in {}{} (one spec per service_name per wire family; \
                     point the other document's index entry at that file)",
                    if base.is_some_and(|b| b.interfaces.iter().any(|f| f.path == other)) { "bolink-types' " } else { "" },
                    other.display()
                ),
            ));
        }
    }
    for file in &spec.definitions {
        check_shared_objects(file, &enums, errors);
    }
    check_indexes(spec, errors);
}

fn check_enums<'a>(spec: &'a Spec, errors: &mut Vec<SpecError>) -> BTreeMap<&'a str, &'a EnumDef> {
    let mut all = BTreeMap::new();
    for file in &spec.definitions {
        for (name, def) in &file.value.enums {
            let err =
                |reason: String| SpecError::new(&file.path, None, format!("enum {name}: {reason}"));
            if all.insert(name.as_str(), def).is_some() {
                errors.push(err("defined twice".into()));
            }
            if !is_snake(name) {
                errors.push(err("name must be snake_case".into()));
            }
            let mut names = BTreeSet::new();
            let mut codes = BTreeSet::new();
            for variant in &def.variants {
                if !names.insert(&variant.name) || !is_snake(&variant.name) {
                    errors.push(err(format!(
                        "variant name `{}` is repeated or not snake_case",
                        variant.name
                    )));
                }
                if variant.name == "unknown" {
                    errors.push(err("`unknown` is reserved for unrecognised codes".into()));
                }
                if !codes.insert(&variant.code) {
                    errors.push(err(format!("code {} is repeated", variant.code)));
                }
                let kind_ok = matches!(
                    (&variant.code, def.codes),
                    (Code::Int(_), CodeKind::Integer) | (Code::Str(_), CodeKind::String)
                );
                if !kind_ok {
                    errors.push(err(format!(
                        "code {} does not match `codes = {:?}`",
                        variant.code, def.codes
                    )));
                }
            }
            if def.variants.is_empty() && !def.open {
                errors.push(err("a closed enum with no variants accepts nothing".into()));
            }
            if def.variants.is_empty() && def.complete {
                errors.push(err(
                    "a complete enum needs variants (an unseen table is `complete = false`)".into(),
                ));
            }
        }
    }
    all
}

/// Where a table of fields lives, for messages.
struct Table<'a> {
    what: String,
    /// For an answer's table: the fields of the request(s) it answers,
    /// which `request_when` rules may name.
    request: Option<Vec<&'a Field>>,
    fields: &'a [Field],
    together: &'a [Vec<String>],
    at_least_one: &'a [Vec<String>],
}

fn check_interface(
    file: &LoadedFile<InterfaceFile>,
    enums: &BTreeMap<&str, &EnumDef>,
    errors: &mut Vec<SpecError>,
) {
    let iface = &file.value;
    let path = &file.path;
    let at = |line: Option<usize>, reason: String| SpecError::new(path, line, reason);

    let dir_ok = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|d| d == iface.document.dir());
    if !dir_ok {
        errors.push(at(
            None,
            format!(
                "document `{}` must live in protocol-spec/{}/",
                iface.document.dir(),
                iface.document.dir()
            ),
        ));
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if !stem.starts_with(&format!("{}_", iface.section)) {
        errors.push(at(
            None,
            format!(
                "file name must start with the section: `{}_...`",
                iface.section
            ),
        ));
    }
    if iface.service_name.is_none() && iface.url_path.is_none() {
        errors.push(at(
            None,
            "an interface needs a service_name or a url_path".into(),
        ));
    }
    if iface.status != Completeness::Complete && iface.missing.is_empty() {
        errors.push(at(
            None,
            "a partial or from_code spec must say what is `missing`".into(),
        ));
    }
    if iface.status == Completeness::FromCode {
        // No page was seen: no row can claim to be the page's.
        let tables = iface
            .roles
            .iter()
            .map(|(name, role)| (format!("role {}", name.as_str()), &role.fields))
            .chain(
                iface
                    .objects
                    .iter()
                    .map(|(name, object)| (format!("object {name}"), &object.fields)),
            );
        for (what, fields) in tables {
            for field in fields.iter() {
                if matches!(field.provenance(), FieldSource::Page(_)) {
                    errors.push(at(
                        Some(line_of(&file.text, field.name.span().start)),
                        format!(
                            "{what} field `{}`: a from_code spec has no page rows; give its `source`",
                            field.name.get_ref()
                        ),
                    ));
                }
            }
        }
    }
    if iface.roles.is_empty() {
        errors.push(at(
            None,
            "no roles: an interface needs at least its request".into(),
        ));
    }

    let request_fields: Vec<&Field> = [RoleName::Request, RoleName::HttpRequest]
        .iter()
        .filter_map(|name| iface.roles.get(name))
        .flat_map(|role| &role.fields)
        .collect();
    let mut tables = Vec::new();
    for (name, role) in &iface.roles {
        let is_answer = !matches!(name, RoleName::Request | RoleName::HttpRequest);
        tables.push(Table {
            what: format!("role {}", name.as_str()),
            request: is_answer.then(|| request_fields.clone()),
            fields: &role.fields,
            together: &role.together,
            at_least_one: &role.at_least_one,
        });
        for example in &role.examples {
            if example.broken.is_some() != example.corrected.is_some() {
                errors.push(at(
                    None,
                    format!(
                        "role {}: a broken example needs both `broken` and `corrected`",
                        name.as_str()
                    ),
                ));
            }
        }
        let service_fields = role
            .fields
            .iter()
            .filter(|f| f.ty == FieldType::ServiceName)
            .count();
        if service_fields > 1 {
            errors.push(at(
                None,
                format!("role {}: service_name listed twice", name.as_str()),
            ));
        }
        if service_fields == 1 && iface.service_name.is_none() {
            errors.push(at(
                None,
                format!(
                    "role {}: has a service_name field but the interface has no service_name",
                    name.as_str()
                ),
            ));
        }
    }
    for (name, object) in &iface.objects {
        if !is_pascal(name) {
            errors.push(at(
                None,
                format!("object `{name}`: name must be PascalCase"),
            ));
        }
        tables.push(Table {
            what: format!("object {name}"),
            request: None,
            fields: &object.fields,
            together: &object.together,
            at_least_one: &object.at_least_one,
        });
    }

    let mut used_objects = BTreeSet::new();
    for table in &tables {
        check_table(
            file,
            table,
            enums,
            &iface.objects,
            &mut used_objects,
            errors,
        );
    }
    for name in iface.objects.keys() {
        if !used_objects.contains(name.as_str()) {
            errors.push(at(None, format!("object `{name}` is never used")));
        }
    }
}

/// Checks one table of fields: names, shapes, rules and groups.
fn check_table<'a, T>(
    file: &LoadedFile<T>,
    table: &Table<'a>,
    enums: &BTreeMap<&str, &EnumDef>,
    objects: &'a BTreeMap<String, crate::model::Object>,
    used_objects: &mut BTreeSet<&'a str>,
    errors: &mut Vec<SpecError>,
) {
    let at = |line: Option<usize>, reason: String| SpecError::new(&file.path, line, reason);
    let mut seen = BTreeSet::new();
    for field in table.fields {
        let line = Some(line_of(&file.text, field.name.span().start));
        let name = field.name.get_ref();
        let err = |reason: String| at(line, format!("{} field `{name}`: {reason}", table.what));
        if !seen.insert(name.as_str()) {
            errors.push(err("listed twice".into()));
        }
        check_field_shape(field, enums, objects, used_objects, &err, errors);
        match &field.required {
            Required::When(rule) => {
                let target = table.fields.iter().find(|f| f.name.get_ref() == &rule.when);
                match target {
                    None => errors.push(err(format!(
                        "rule refers to `{}`, not a field of this table",
                        rule.when
                    ))),
                    Some(target) => check_rule_codes(target, rule, enums, &err, errors),
                }
                if rule.is_in.is_some() == rule.not_in.is_some() {
                    errors.push(err(
                        "a `when` rule needs exactly one of `in` and `not_in`".into()
                    ));
                }
                if field.fixed.is_some() {
                    errors.push(err("a fixed field cannot have a conditional rule".into()));
                }
            }
            Required::WhenPresent(rule) => {
                for name in &rule.when_present {
                    if !table.fields.iter().any(|f| f.name.get_ref() == name) {
                        errors.push(err(format!(
                            "rule refers to `{name}`, not a field of this table"
                        )));
                    }
                }
                if rule.when_present.is_empty() {
                    errors.push(err("`when_present` needs at least one field".into()));
                }
            }
            Required::WhenRequest(rule) => match &table.request {
                None => errors.push(err(
                    "a `request_when` rule belongs in an answer's table (top level)".into(),
                )),
                Some(request) => {
                    let rule = rule.as_when();
                    match request.iter().find(|f| f.name.get_ref() == &rule.when) {
                        None => errors.push(err(format!(
                            "rule refers to `{}`, not a field of this interface's request",
                            rule.when
                        ))),
                        Some(target) => check_rule_codes(target, &rule, enums, &err, errors),
                    }
                    if rule.is_in.is_some() == rule.not_in.is_some() {
                        errors.push(err(
                            "a `request_when` rule needs exactly one of `in` and `not_in`".into(),
                        ));
                    }
                }
            },
            Required::External(rule) if rule.external.trim().is_empty() => {
                errors.push(err("an external rule needs its condition as text".into()));
            }
            _ => {}
        }
    }
    for group in table.together.iter().chain(table.at_least_one) {
        for name in group {
            if !table.fields.iter().any(|f| f.name.get_ref() == name) {
                errors.push(at(
                    None,
                    format!(
                        "{}: group names `{name}`, not a field of this table",
                        table.what
                    ),
                ));
            }
        }
        if group.len() < 2 {
            errors.push(at(
                None,
                format!("{}: a field group needs at least two fields", table.what),
            ));
        }
    }
}

/// Shared objects: only in a family's definitions file, PascalCase, plain
/// fields (no service_name of their own, no nested tables).
fn check_shared_objects(
    file: &LoadedFile<DefinitionsFile>,
    enums: &BTreeMap<&str, &EnumDef>,
    errors: &mut Vec<SpecError>,
) {
    let objects = &file.value.objects;
    if objects.is_empty() {
        return;
    }
    let at = |reason: String| SpecError::new(&file.path, None, reason);
    if Family::of_definitions(&file.path).is_none() {
        errors.push(at(
            "shared objects belong to one wire family: define them in definitions/sdk.toml \
             or definitions/newapi.toml"
                .into(),
        ));
    }
    let no_nested = BTreeMap::new();
    for (name, object) in objects {
        let what = format!("shared object {name}");
        if !is_pascal(name) {
            errors.push(at(format!("{what}: name must be PascalCase")));
        }
        if object.source.trim().is_empty() {
            errors.push(at(format!(
                "{what}: say where its shape comes from in `source`"
            )));
        }
        for field in &object.fields {
            let line = Some(line_of(&file.text, field.name.span().start));
            let err = |reason: &str| {
                SpecError::new(
                    &file.path,
                    line,
                    format!("{what} field `{}`: {reason}", field.name.get_ref()),
                )
            };
            if field.ty == FieldType::ServiceName {
                errors.push(err(
                    "a shared object is read for many services and has no service_name of its own",
                ));
            }
            if matches!(field.ty, FieldType::Object | FieldType::Array) {
                errors.push(err("shared objects have no nested tables"));
            }
        }
        for example in &object.examples {
            if example.broken.is_some() != example.corrected.is_some() {
                errors.push(at(format!(
                    "{what}: a broken example needs both `broken` and `corrected`"
                )));
            }
        }
        let table = Table {
            what,
            request: None,
            fields: &object.fields,
            together: &object.together,
            at_least_one: &object.at_least_one,
        };
        check_table(
            file,
            &table,
            enums,
            &no_nested,
            &mut BTreeSet::new(),
            errors,
        );
    }
}

fn check_field_shape<'a>(
    field: &'a Field,
    enums: &BTreeMap<&str, &EnumDef>,
    objects: &BTreeMap<String, crate::model::Object>,
    used_objects: &mut BTreeSet<&'a str>,
    err: &dyn Fn(String) -> SpecError,
    errors: &mut Vec<SpecError>,
) {
    let is_enum = field.ty == FieldType::Enum;
    let is_nested = matches!(field.ty, FieldType::Object | FieldType::Array);
    match (&field.enum_ref, is_enum) {
        (None, true) => errors.push(err("`type = \"enum\"` needs `enum = \"...\"`".into())),
        (Some(_), false) => errors.push(err("`enum` is only for `type = \"enum\"`".into())),
        (Some(name), true) => {
            if !enums.contains_key(name.get_ref().as_str()) {
                errors.push(err(format!(
                    "unknown enum `{}` (define it in protocol-spec/definitions/)",
                    name.get_ref()
                )));
            }
        }
        (None, false) => {}
    }
    if field.wire.is_some() && !is_enum {
        errors.push(err("`wire` is only for enums".into()));
    }
    match (&field.object, is_nested) {
        (None, true) => errors.push(err(
            "object and array fields need `object = \"TypeName\"`".into()
        )),
        (Some(_), false) => errors.push(err(
            "`object` is only for `type = \"object\"` or `\"array\"`".into(),
        )),
        (Some(name), true) => {
            if objects.contains_key(name.get_ref()) {
                used_objects.insert(name.get_ref().as_str());
            } else {
                errors.push(err(format!(
                    "unknown object `{}` (define it under [objects.{}])",
                    name.get_ref(),
                    name.get_ref()
                )));
            }
        }
        (None, false) => {}
    }
    if field.max_len.is_some() && is_nested {
        errors.push(err(
            "object and array fields take no max_len (their fields do)".into(),
        ));
    }
    if field.max_len == Some(0) {
        errors.push(err("max_len 0 allows nothing".into()));
    }
    if field.fixed.is_some() && !matches!(field.ty, FieldType::String | FieldType::Enum) {
        errors.push(err("`fixed` is only for string and enum fields".into()));
    }
    if field.ty == FieldType::ServiceName && field.max_len.is_some_and(|m| m < 8) {
        // The documents print 8 for service_name in places where "nolicence_in_park"
        // (17 characters) must fit; a limit below any service name is a table typo.
        errors.push(err(
            "service_name max_len below 8 cannot hold service names".into(),
        ));
    }
}

fn check_rule_codes(
    target: &Field,
    rule: &crate::model::WhenRule,
    enums: &BTreeMap<&str, &EnumDef>,
    err: &dyn Fn(String) -> SpecError,
    errors: &mut Vec<SpecError>,
) {
    let codes = rule.is_in.iter().chain(&rule.not_in).flatten();
    let expected_kind = match target.ty {
        FieldType::Integer => Some(CodeKind::Integer),
        FieldType::String => Some(CodeKind::String),
        FieldType::Enum => target
            .enum_ref
            .as_ref()
            .and_then(|name| enums.get(name.get_ref().as_str()))
            .map(|def| def.codes),
        _ => None,
    };
    let Some(kind) = expected_kind else {
        errors.push(err(format!(
            "rules can look at integer, string and enum fields; `{}` is {:?}",
            target.name.get_ref(),
            target.ty
        )));
        return;
    };
    for code in codes {
        let ok = matches!(
            (code, kind),
            (Code::Int(_), CodeKind::Integer) | (Code::Str(_), CodeKind::String)
        );
        if !ok {
            errors.push(err(format!(
                "code {code} does not fit `{}` ({kind:?} codes)",
                target.name.get_ref()
            )));
        }
    }
}

fn check_indexes(spec: &Spec, errors: &mut Vec<SpecError>) {
    // A document's index may be split into parts (`sdk.1.toml`, `sdk.2.toml`);
    // the parts are read in file-name order, so only the title has to agree.
    let mut titles = BTreeMap::new();
    for file in &spec.indexes {
        let index = &file.value;
        let title = titles
            .entry(index.document)
            .or_insert_with(|| index.title.clone());
        if *title != index.title {
            errors.push(SpecError::new(
                &file.path,
                None,
                "parts of one document's index disagree on its title",
            ));
        }
        for entry in &index.entries {
            let err = |reason: String| {
                SpecError::new(
                    &file.path,
                    None,
                    format!("entry {} {}: {reason}", entry.section, entry.title),
                )
            };
            let wants_spec = matches!(
                entry.status,
                EntryStatus::Specified | EntryStatus::Partial | EntryStatus::FromCode
            );
            match (&entry.spec, wants_spec) {
                (None, true) => errors.push(err(
                    "specified, partial and from_code entries need `spec`".into(),
                )),
                (Some(_), false) => errors.push(err(
                    "only specified, partial and from_code entries have a `spec`".into(),
                )),
                (Some(spec_path), true) => {
                    match spec
                        .interfaces
                        .iter()
                        .find(|i| i.path == Path::new(spec_path))
                    {
                        None => errors.push(err(format!("spec file `{spec_path}` does not exist"))),
                        Some(target) => {
                            let agrees = matches!(
                                (entry.status, target.value.status),
                                (EntryStatus::Specified, Completeness::Complete)
                                    | (EntryStatus::Partial, Completeness::Partial)
                                    | (EntryStatus::FromCode, Completeness::FromCode)
                            );
                            if !agrees {
                                errors.push(err(format!(
                                    "status `{:?}` disagrees with {} (status {:?})",
                                    entry.status, spec_path, target.value.status
                                )));
                            }
                        }
                    }
                }
                (None, false) => {}
            }
            if !wants_spec && entry.status != EntryStatus::NotAnInterface && entry.reason.is_none()
            {
                errors.push(err("say why in `reason`".into()));
            }
            if matches!(entry.status, EntryStatus::Partial | EntryStatus::FromCode)
                && entry.reason.is_none()
            {
                errors.push(err("a partial or from_code entry needs a `reason`".into()));
            }
        }
    }
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_pascal(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}
