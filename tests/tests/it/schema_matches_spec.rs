//! The generated schemas say what the spec says: every interface, role,
//! nested object and shared object of `protocol-spec/` is compared with the
//! `ObjectSchema` its generated type carries, and every enum of
//! `definitions/` with its generated `EnumSchema`.
//!
//! A spec edit that was not regenerated (`cargo xtask codegen`), or a
//! generator that drops something, fails here with every difference listed
//! as `file: role.field: what differs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::role_of;
use bolink_spec::model::{
    Code, CodeKind as SpecCodeKind, Document as SpecDocument, EnumDef, EnumWire,
    Family as SpecFamily, Field, FieldType, InterfaceFile, Object, Presence as SpecPresence,
    Required,
};
use bolink_spec::Spec;
use bolink_types::catalog::{Document, Family};
use bolink_types::schema::{EnumSchema, Kind, ObjectSchema, Presence, Rule};
use bolink_types::{enums, CodeEnum, CodeKind, CodeRef, Role, INTERFACES, SHARED_OBJECTS};

/// Every generated enum, so that an enum no field uses is compared too.
/// An enum added to the spec but missing here is still found through the
/// fields that use it; one that no field uses and that is not listed here
/// is reported.
fn generated_enums() -> Vec<&'static EnumSchema> {
    macro_rules! schemas {
        ($($name:ident),* $(,)?) => {
            vec![$(<enums::$name as CodeEnum>::schema()),*]
        };
    }
    schemas![
        AccountType,
        CarCostType,
        CarType,
        CouponUnit,
        DataTarget,
        DiscountUseType,
        EntryCheckStatus,
        EntryExitType,
        EntryRefusalReason,
        EscapeDisplay,
        EtcType,
        LicenseColor,
        LiftrodReason,
        LockFlag,
        MemberFlag,
        NetStatus,
        OperateType,
        Passtype,
        PayApp,
        PayChannel,
        PayScene,
        PayType,
        PictureSource,
        PrepayType,
        ReceiveCloud,
        RechargeState,
        Sex,
        ShareStatus,
        State,
        WorkState,
        YesNo,
    ]
}

/// `pay_scene` -> `PayScene`, as the generator names types and variants.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn document_of(document: SpecDocument) -> Document {
    match document {
        SpecDocument::Sdk => Document::Sdk,
        SpecDocument::SdkHttp => Document::SdkHttp,
        SpecDocument::Newapi => Document::Newapi,
    }
}

fn code_eq(spec: &Code, schema: &CodeRef<'_>) -> bool {
    match (spec, schema) {
        (Code::Int(a), CodeRef::Int(b)) => a == b,
        (Code::Str(a), CodeRef::Str(b)) => a == b,
        _ => false,
    }
}

fn codes_text(codes: &[Code]) -> String {
    let all: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    format!("[{}]", all.join(", "))
}

fn schema_codes_text(codes: &[CodeRef<'_>]) -> String {
    let all: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    format!("[{}]", all.join(", "))
}

/// How the spec's required rule and the schema's rule differ, if they do.
///
/// One match over the pairs that can agree; any other pairing (a rule kind
/// one side has and the other does not, such as a future rule on the
/// request's fields) is reported, not a panic. A new pairing is one more arm.
fn rule_difference(spec: &Required, schema: &Rule) -> Option<String> {
    let differs = |what: String| Some(format!("required: {what}"));
    match (spec, schema) {
        (Required::Simple(SpecPresence::Always), Rule::Always)
        | (Required::Simple(SpecPresence::Optional), Rule::Optional) => None,
        (
            Required::When(rule),
            Rule::When {
                field,
                codes,
                negated,
                ..
            },
        ) => {
            let (spec_codes, spec_negated): (&[Code], bool) = match (&rule.is_in, &rule.not_in) {
                (Some(codes), None) => (codes, false),
                (None, Some(codes)) => (codes, true),
                (None, None) => (&[], false),
                (Some(_), Some(_)) => {
                    return differs(format!(
                        "the spec rule on `{}` has both `in` and `not_in`",
                        rule.when
                    ))
                }
            };
            let same_codes = spec_codes.len() == codes.len()
                && spec_codes
                    .iter()
                    .zip(codes.iter())
                    .all(|(a, b)| code_eq(a, b));
            let verb = |negated: bool| if negated { "not_in" } else { "in" };
            if rule.when != *field || spec_negated != *negated || !same_codes {
                differs(format!(
                    "spec when `{}` {} {}, schema when `{field}` {} {}",
                    rule.when,
                    verb(spec_negated),
                    codes_text(spec_codes),
                    verb(*negated),
                    schema_codes_text(codes)
                ))
            } else {
                None
            }
        }
        // The same comparison as a rule on the message's own fields, with
        // the request's field in place of one of its own.
        (
            Required::WhenRequest(rule),
            &Rule::WhenRequest {
                field,
                codes,
                negated,
            },
        ) => rule_difference(
            &Required::When(rule.as_when()),
            &Rule::When {
                field,
                codes,
                negated,
            },
        )
        .map(|difference| format!("{difference} (of the request)")),
        (Required::WhenPresent(rule), Rule::WhenPresent(fields)) => {
            if rule
                .when_present
                .iter()
                .map(String::as_str)
                .eq(fields.iter().copied())
            {
                None
            } else {
                differs(format!(
                    "spec when_present {:?}, schema when_present {fields:?}",
                    rule.when_present
                ))
            }
        }
        (Required::External(rule), Rule::External(text)) => {
            if rule.external == *text {
                None
            } else {
                differs(format!(
                    "spec external {:?}, schema external {text:?}",
                    rule.external
                ))
            }
        }
        (spec, schema) => differs(format!("spec {spec:?}, schema {schema:?}")),
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Text => "Text".into(),
        Kind::Integer => "Integer".into(),
        Kind::Decimal => "Decimal".into(),
        Kind::MoneyText => "MoneyText".into(),
        Kind::MoneyNumber => "MoneyNumber".into(),
        Kind::UnixSeconds => "UnixSeconds".into(),
        Kind::UnixMillis => "UnixMillis".into(),
        Kind::Enum { schema, as_text } => {
            format!("Enum({}, as_text: {as_text})", schema().rust_name)
        }
        Kind::Object(schema) => format!("Object({})", schema().rust_name),
        Kind::Array(schema) => format!("Array({})", schema().rust_name),
        Kind::Json => "Json".into(),
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

fn presence_name(presence: Presence) -> &'static str {
    match presence {
        Presence::Required => "required",
        Presence::Optional => "optional",
        Presence::Absent => "absent",
    }
}

/// The presence a `service_name` row or a fixed row gives its key.
fn presence_of(field: &Field) -> Presence {
    match field.required {
        Required::Simple(SpecPresence::Always) => Presence::Required,
        _ => Presence::Optional,
    }
}

/// Collects the differences between the spec and the generated schemas.
struct Comparison<'s> {
    spec: &'s Spec,
    problems: Vec<String>,
    /// Generated enum schemas by Rust name, from the list above and from
    /// every enum field met.
    enums: BTreeMap<&'static str, &'static EnumSchema>,
}

/// A table of the spec: a role, a nested object or a shared object.
struct Table<'a> {
    fields: &'a [Field],
    together: &'a [Vec<String>],
    at_least_one: &'a [Vec<String>],
}

impl<'s> Comparison<'s> {
    fn problem(&mut self, file: &str, place: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{file}: {place}: {what}"));
    }

    /// Compares one table with its schema. `service_name` is the message's
    /// service name for a role of an interface with one, else `None` (nested
    /// and shared objects carry none of their own).
    #[allow(clippy::too_many_arguments)]
    fn table(
        &mut self,
        file: &str,
        place: &str,
        iface: Option<&'s InterfaceFile>,
        table: &Table<'s>,
        schema: &'static ObjectSchema,
        service_name: Option<&str>,
        visited: &mut BTreeSet<String>,
    ) {
        // service_name: the message's constant and whether its key is required.
        let service_row = table.fields.iter().find(|f| f.ty == FieldType::ServiceName);
        let expected_presence = match (service_name, service_row) {
            (Some(_), Some(row)) => presence_of(row),
            (Some(_), None) | (None, _) => Presence::Absent,
        };
        if schema.service_name != service_name {
            self.problem(
                file,
                place,
                format!(
                    "service_name: spec {service_name:?}, schema {:?}",
                    schema.service_name
                ),
            );
        }
        if schema.service_name_presence != expected_presence {
            self.problem(
                file,
                place,
                format!(
                    "service_name presence: spec {}, schema {}",
                    presence_name(expected_presence),
                    presence_name(schema.service_name_presence)
                ),
            );
        }
        if service_name.is_none() {
            if let Some(row) = service_row {
                self.problem(
                    file,
                    &format!("{place}.{}", row.name.get_ref()),
                    format!(
                        "the spec has a service_name row ({}), the schema of this object neither checks nor writes it",
                        presence_name(presence_of(row))
                    ),
                );
            }
        }

        // Fixed rows: constants, in order.
        let spec_constants: Vec<(String, String, Presence)> = table
            .fields
            .iter()
            .filter(|f| f.fixed.is_some() && f.name.get_ref() != "service_name")
            .map(|f| {
                (
                    f.name.get_ref().clone(),
                    f.fixed.clone().unwrap_or_default(),
                    presence_of(f),
                )
            })
            .collect();
        let schema_constants: Vec<(String, String, Presence)> = schema
            .constants
            .iter()
            .map(|c| (c.name.to_string(), c.value.to_string(), c.presence))
            .collect();
        if spec_constants != schema_constants {
            let show = |all: &[(String, String, Presence)]| {
                all.iter()
                    .map(|(n, v, p)| format!("{n}={v:?} ({})", presence_name(*p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            self.problem(
                file,
                place,
                format!(
                    "constants: spec [{}], schema [{}]",
                    show(&spec_constants),
                    show(&schema_constants)
                ),
            );
        }

        // The data fields: same wire names, same order.
        let spec_fields: Vec<&Field> = table
            .fields
            .iter()
            .filter(|f| f.ty != FieldType::ServiceName && f.fixed.is_none())
            .collect();
        let spec_names: Vec<&str> = spec_fields
            .iter()
            .map(|f| f.name.get_ref().as_str())
            .collect();
        let schema_names: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
        if spec_names != schema_names {
            self.problem(
                file,
                place,
                format!("fields: spec {spec_names:?}, schema {schema_names:?}"),
            );
        }
        for field in &spec_fields {
            let name = field.name.get_ref();
            let at = format!("{place}.{name}");
            let Some(generated) = schema.fields.iter().find(|f| f.name == name.as_str()) else {
                continue; // reported with the field lists
            };
            let spec_max = field.max_len.map(|m| m as usize);
            if spec_max != generated.max_len {
                self.problem(
                    file,
                    &at,
                    format!(
                        "max_len: spec {}, schema {}",
                        spec_max.map_or("none".into(), |m| m.to_string()),
                        generated.max_len.map_or("none".into(), |m| m.to_string())
                    ),
                );
            }
            if let Some(what) = rule_difference(&field.required, &generated.rule) {
                self.problem(file, &at, what);
            }
            self.kind(file, &at, iface, field, &generated.kind, visited);
        }

        // Message-level groups.
        let groups = |spec: &[Vec<String>], schema: &[&[&str]]| {
            spec.len() == schema.len()
                && spec
                    .iter()
                    .zip(schema)
                    .all(|(a, b)| a.iter().map(String::as_str).eq(b.iter().copied()))
        };
        if !groups(table.together, schema.together) {
            self.problem(
                file,
                place,
                format!(
                    "together: spec {:?}, schema {:?}",
                    table.together, schema.together
                ),
            );
        }
        if !groups(table.at_least_one, schema.at_least_one) {
            self.problem(
                file,
                place,
                format!(
                    "at_least_one: spec {:?}, schema {:?}",
                    table.at_least_one, schema.at_least_one
                ),
            );
        }
    }

    /// Compares a field's type with the generated kind, and follows nested
    /// objects into their own tables.
    fn kind(
        &mut self,
        file: &str,
        at: &str,
        iface: Option<&'s InterfaceFile>,
        field: &Field,
        kind: &Kind,
        visited: &mut BTreeSet<String>,
    ) {
        let mismatch = |this: &mut Self| {
            this.problem(
                file,
                at,
                format!("type: spec {:?}, schema kind {}", field.ty, kind_name(kind)),
            )
        };
        match (field.ty, kind) {
            (FieldType::String, Kind::Text)
            | (FieldType::Integer, Kind::Integer)
            | (FieldType::Decimal, Kind::Decimal)
            | (FieldType::MoneyString, Kind::MoneyText)
            | (FieldType::MoneyNumber, Kind::MoneyNumber)
            | (FieldType::UnixSeconds, Kind::UnixSeconds)
            | (FieldType::UnixMillis, Kind::UnixMillis)
            | (FieldType::Json, Kind::Json) => {}
            (FieldType::Enum, Kind::Enum { schema, as_text }) => {
                let generated = schema();
                self.enums.insert(generated.rust_name, generated);
                let enum_name = field.enum_ref.as_ref().map(|e| e.get_ref().as_str());
                let def = enum_name.and_then(|n| self.spec.enum_def(n));
                let (Some(enum_name), Some(def)) = (enum_name, def) else {
                    self.problem(file, at, "enum: the spec names no known enum");
                    return;
                };
                if generated.rust_name != pascal(enum_name) {
                    self.problem(
                        file,
                        at,
                        format!(
                            "enum: spec {enum_name} ({}), schema {}",
                            pascal(enum_name),
                            generated.rust_name
                        ),
                    );
                }
                let spec_as_text = match field.wire {
                    Some(EnumWire::String) => true,
                    Some(EnumWire::Number) => false,
                    None => def.codes == SpecCodeKind::String,
                };
                if spec_as_text != *as_text {
                    self.problem(
                        file,
                        at,
                        format!(
                            "enum wire: spec {} (wire {:?}, codes {:?}), schema as_text {as_text}",
                            if spec_as_text { "text" } else { "number" },
                            field.wire,
                            def.codes
                        ),
                    );
                }
            }
            (FieldType::Object, Kind::Object(schema)) | (FieldType::Array, Kind::Array(schema)) => {
                let schema = schema();
                let Some(name) = field.object.as_ref().map(|o| o.get_ref().clone()) else {
                    self.problem(file, at, "object: the spec names no object");
                    return;
                };
                if schema.rust_name != name {
                    self.problem(
                        file,
                        at,
                        format!("object: spec {name}, schema {}", schema.rust_name),
                    );
                }
                let Some(object) = iface.and_then(|i| i.objects.get(&name)) else {
                    self.problem(
                        file,
                        at,
                        format!("object: no `[objects.{name}]` in the file"),
                    );
                    return;
                };
                if visited.insert(name.clone()) {
                    self.object(file, &name, iface, object, schema, visited);
                }
            }
            _ => mismatch(self),
        }
    }

    fn object(
        &mut self,
        file: &str,
        name: &str,
        iface: Option<&'s InterfaceFile>,
        object: &'s Object,
        schema: &'static ObjectSchema,
        visited: &mut BTreeSet<String>,
    ) {
        let table = Table {
            fields: &object.fields,
            together: &object.together,
            at_least_one: &object.at_least_one,
        };
        self.table(
            file,
            &format!("objects.{name}"),
            iface,
            &table,
            schema,
            None,
            visited,
        );
    }

    fn interface(&mut self, file: &str, iface: &'s InterfaceFile) {
        let document = document_of(iface.document);
        let Some(info) = INTERFACES
            .iter()
            .find(|i| i.document == document && i.section == iface.section)
        else {
            self.problem(file, "(interface)", "not in bolink_types::INTERFACES");
            return;
        };
        if info.service_name != iface.service_name.as_deref() {
            self.problem(
                file,
                "(interface)",
                format!(
                    "service_name: spec {:?}, catalog {:?}",
                    iface.service_name, info.service_name
                ),
            );
        }
        if info.url_path != iface.url_path.as_deref() {
            self.problem(
                file,
                "(interface)",
                format!(
                    "url_path: spec {:?}, catalog {:?}",
                    iface.url_path, info.url_path
                ),
            );
        }
        let spec_roles: Vec<Role> = iface.roles.keys().map(|r| role_of(*r)).collect();
        let catalog_roles: Vec<Role> = info.roles.iter().map(|r| r.role).collect();
        if spec_roles != catalog_roles {
            self.problem(
                file,
                "(interface)",
                format!("roles: spec {spec_roles:?}, catalog {catalog_roles:?}"),
            );
        }
        let mut visited = BTreeSet::new();
        for (role_name, role) in &iface.roles {
            let Some(info) = info.roles.iter().find(|r| r.role == role_of(*role_name)) else {
                continue; // reported with the role lists
            };
            let table = Table {
                fields: &role.fields,
                together: &role.together,
                at_least_one: &role.at_least_one,
            };
            self.table(
                file,
                role_name.as_str(),
                Some(iface),
                &table,
                (info.schema)(),
                iface.service_name.as_deref(),
                &mut visited,
            );
        }
        for name in iface.objects.keys() {
            if !visited.contains(name) {
                self.problem(
                    file,
                    &format!("objects.{name}"),
                    "no generated field leads to this object",
                );
            }
        }
    }

    fn shared_objects(&mut self) {
        let spec = self.spec;
        for entry in spec.shared_objects() {
            let file = entry.path.display().to_string();
            let family = match entry.family {
                SpecFamily::Sdk => Family::Sdk,
                SpecFamily::Newapi => Family::Newapi,
            };
            let Some(info) = SHARED_OBJECTS
                .iter()
                .find(|i| i.family == family && i.name == entry.name)
            else {
                self.problem(
                    &file,
                    &format!("objects.{}", entry.name),
                    "not in bolink_types::SHARED_OBJECTS",
                );
                continue;
            };
            let schema = (info.schema)();
            if schema.rust_name != entry.name {
                self.problem(
                    &file,
                    &format!("objects.{}", entry.name),
                    format!("rust_name: schema {}", schema.rust_name),
                );
            }
            let table = Table {
                fields: &entry.object.fields,
                together: &entry.object.together,
                at_least_one: &entry.object.at_least_one,
            };
            self.table(
                &file,
                &format!("objects.{}", entry.name),
                None,
                &table,
                schema,
                None,
                &mut BTreeSet::new(),
            );
        }
    }

    fn enum_definition(&mut self, file: &str, name: &str, def: &EnumDef) {
        let place = format!("enums.{name}");
        let rust_name = pascal(name);
        let Some(generated) = self.enums.get(rust_name.as_str()).copied() else {
            self.problem(
                file,
                &place,
                format!("no generated enum {rust_name} (no field uses it and the test does not list it)"),
            );
            return;
        };
        let kind = match generated.kind {
            CodeKind::Integer => SpecCodeKind::Integer,
            CodeKind::String => SpecCodeKind::String,
        };
        if kind != def.codes {
            self.problem(
                file,
                &place,
                format!("codes: spec {:?}, schema {:?}", def.codes, generated.kind),
            );
        }
        if def.open != generated.open {
            self.problem(
                file,
                &place,
                format!("open: spec {}, schema {}", def.open, generated.open),
            );
        }
        let spec_variants: Vec<String> = def
            .variants
            .iter()
            .map(|v| format!("{}={} {:?}", v.code, pascal(&v.name), v.label))
            .collect();
        let schema_variants: Vec<String> = generated
            .variants
            .iter()
            .map(|v| format!("{}={} {:?}", v.code, v.rust_name, v.label))
            .collect();
        if spec_variants.len() != schema_variants.len() {
            self.problem(
                file,
                &place,
                format!(
                    "variants: spec {} codes, schema {}",
                    spec_variants.len(),
                    schema_variants.len()
                ),
            );
        }
        for (spec_variant, (variant, schema_variant)) in def
            .variants
            .iter()
            .zip(generated.variants.iter().zip(&schema_variants))
        {
            if !code_eq(&spec_variant.code, &variant.code)
                || pascal(&spec_variant.name) != variant.rust_name
                || spec_variant.label != variant.label
            {
                self.problem(
                    file,
                    &format!("{place}.{}", spec_variant.name),
                    format!(
                        "variant: spec {}={} {:?}, schema {schema_variant}",
                        spec_variant.code,
                        pascal(&spec_variant.name),
                        spec_variant.label
                    ),
                );
            }
        }
    }
}

/// Every difference between the spec files and the generated schemas.
fn differences(spec: &Spec) -> Vec<String> {
    let mut cmp = Comparison {
        spec,
        problems: Vec::new(),
        enums: generated_enums()
            .into_iter()
            .map(|e| (e.rust_name, e))
            .collect(),
    };
    for file in &spec.interfaces {
        cmp.interface(&file.path.display().to_string(), &file.value);
    }
    for info in INTERFACES {
        let specified = spec.interfaces.iter().any(|f| {
            document_of(f.value.document) == info.document && f.value.section == info.section
        });
        if !specified {
            cmp.problems.push(format!(
                "bolink_types::INTERFACES: {} {} ({:?}) has no spec file",
                info.document.as_str(),
                info.section,
                info.service_name.or(info.url_path)
            ));
        }
    }
    cmp.shared_objects();
    for file in &spec.definitions {
        let path = file.path.display().to_string();
        for (name, def) in &file.value.enums {
            cmp.enum_definition(&path, name, def);
        }
    }
    cmp.problems
}

/// Differences known today, each with why it is kept rather than fixed here.
/// A difference that goes away must leave this list too.
const KNOWN: &[(&str, &str)] = &[(
    "sdk/3.38_check_vip.toml: objects.Data.service_name: the spec has a service_name row \
     (required), the schema of this object neither checks nor writes it",
    "the generator drops service_name rows of nested objects (only messages carry one); \
     check_vip's answer puts its own service_name inside data",
)];

#[test]
fn generated_schemas_match_the_spec() {
    let spec = Spec::load(bolink_spec::default_root()).unwrap_or_else(|e| panic!("{e}"));
    let problems = differences(&spec);
    let unknown: Vec<&String> = problems
        .iter()
        .filter(|p| !KNOWN.iter().any(|(known, _)| known == p))
        .collect();
    let gone: Vec<&str> = KNOWN
        .iter()
        .map(|(known, _)| *known)
        .filter(|known| !problems.iter().any(|p| p == known))
        .collect();
    assert!(
        unknown.is_empty(),
        "{} difference(s) between protocol-spec/ and the generated schemas \
         (regenerate with `cargo xtask codegen`, or fix the generator):\n{}",
        unknown.len(),
        unknown
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        gone.is_empty(),
        "known differences that no longer occur (remove them from KNOWN):\n{}",
        gone.join("\n")
    );
}
