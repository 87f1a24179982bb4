//! Rust names for spec items, chosen once and checked for clashes before any
//! code is emitted.

use std::collections::{BTreeMap, BTreeSet};

use bolink_spec::model::{
    CodeLocation, EnumDef, Family, Field, FieldSource, InterfaceFile, RoleName, SharedObject,
};
use bolink_spec::Spec;
use heck::{ToPascalCase, ToSnakeCase};
use proc_macro2::{Ident, Span};

/// Everything the emitters need, with names resolved.
pub struct Model<'a> {
    pub families: Vec<FamilyModel<'a>>,
    pub enums: Vec<EnumModel<'a>>,
    /// How docs name the spec folder (`protocol-spec`, or a vendor's).
    pub spec_dir: String,
}

pub struct EnumModel<'a> {
    pub rust: String,
    pub def: &'a EnumDef,
}

pub struct FamilyModel<'a> {
    pub family: Family,
    pub module: &'static str,
    pub interfaces: Vec<IfaceModel<'a>>,
    /// Shapes shared by many interfaces (`definitions/<family>.toml`), by name.
    pub shared: Vec<SharedModel<'a>>,
}

/// The private module of a family that holds its shared objects (re-exported
/// at the family's root).
pub const SHARED_MODULE: &str = "shared";

pub struct SharedModel<'a> {
    /// The Rust type name (`Ack`).
    pub ident: Ident,
    pub object: &'a SharedObject,
    /// Path of the definitions file, relative to protocol-spec/.
    pub spec_path: String,
}

pub struct IfaceModel<'a> {
    pub spec: &'a InterfaceFile,
    /// Path of the spec file, relative to protocol-spec/.
    pub spec_path: String,
    /// The module's file stem (`query_price`).
    pub module_file: String,
    /// The module's identifier (raw when a keyword).
    pub module: Ident,
    /// The variant name in the family's role enums (`QueryPrice`).
    pub variant: Ident,
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// An identifier for a snake_case name, raw when it is a keyword.
pub fn snake_ident(name: &str) -> Ident {
    let snake = name.to_snake_case();
    let snake = if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{snake}")
    } else {
        snake
    };
    if KEYWORDS.contains(&snake.as_str()) {
        Ident::new_raw(&snake, Span::call_site())
    } else {
        Ident::new(&snake, Span::call_site())
    }
}

/// A PascalCase identifier.
pub fn pascal_ident(name: &str) -> Ident {
    let pascal = name.to_pascal_case();
    let pascal = if pascal.starts_with(|c: char| c.is_ascii_digit()) {
        format!("N{pascal}")
    } else {
        pascal
    };
    Ident::new(&pascal, Span::call_site())
}

/// The struct name of a role.
pub fn role_struct(role: RoleName) -> Ident {
    pascal_ident(role.as_str())
}

/// The field identifier of a wire name.
pub fn field_ident(wire: &str) -> Ident {
    snake_ident(wire)
}

impl<'a> Model<'a> {
    pub fn build(spec: &'a Spec) -> Result<Model<'a>, String> {
        let mut errors = Vec::new();
        let mut enum_names = BTreeMap::new();
        let mut enums = Vec::new();
        for (name, def) in spec.enums() {
            let rust = name.to_pascal_case();
            if let Some(other) = enum_names.insert(rust.clone(), name) {
                errors.push(format!("enums `{name}` and `{other}` both become `{rust}`"));
            }
            let mut variants = BTreeSet::new();
            for v in &def.variants {
                if !variants.insert(v.name.to_pascal_case()) {
                    errors.push(format!(
                        "enum `{name}`: two variants become `{}`",
                        v.name.to_pascal_case()
                    ));
                }
            }
            enums.push(EnumModel { rust, def });
        }

        let mut families: Vec<FamilyModel<'a>> = Vec::new();
        for family in [Family::Sdk, Family::Newapi] {
            let mut interfaces = Vec::new();
            let mut modules = BTreeMap::new();
            for file in spec
                .interfaces
                .iter()
                .filter(|f| f.value.document.family() == family)
            {
                let iface = &file.value;
                let key = iface
                    .service_name
                    .clone()
                    .or_else(|| {
                        iface
                            .url_path
                            .as_ref()
                            .and_then(|p| p.rsplit('/').find(|s| !s.is_empty()).map(String::from))
                    })
                    .unwrap_or_default();
                let module_file = key.to_snake_case();
                let path = file.path.display().to_string();
                if let Some(other) = modules.insert(module_file.clone(), path.clone()) {
                    errors.push(format!(
                        "{path} and {other} both become module `{module_file}`"
                    ));
                }
                check_fields(iface, &path, &mut errors);
                interfaces.push(IfaceModel {
                    spec: iface,
                    spec_path: path,
                    module: snake_ident(&module_file),
                    variant: pascal_ident(&module_file),
                    module_file,
                });
            }
            interfaces.sort_by(|a, b| {
                (a.spec.document, section_key(&a.spec.section))
                    .cmp(&(b.spec.document, section_key(&b.spec.section)))
            });
            if let Some(path) = modules.get(SHARED_MODULE) {
                errors.push(format!(
                    "{path} becomes module `{SHARED_MODULE}`, which holds the family's shared objects"
                ));
            }
            let mut shared = Vec::new();
            for entry in spec
                .shared_objects()
                .into_iter()
                .filter(|e| e.family == family)
            {
                let taken = RoleName::ALL
                    .iter()
                    .map(|r| role_struct(*r).to_string())
                    .chain(["Message".to_string()])
                    .any(|name| name == entry.name);
                if taken {
                    errors.push(format!(
                        "{}: shared object `{}` clashes with a type of the family module",
                        entry.path.display(),
                        entry.name
                    ));
                }
                let spec_path = entry.path.display().to_string();
                check_field_names(&spec_path, entry.name, &entry.object.fields, &mut errors);
                shared.push(SharedModel {
                    ident: Ident::new(entry.name, Span::call_site()),
                    object: entry.object,
                    spec_path,
                });
            }
            families.push(FamilyModel {
                family,
                module: family.module(),
                interfaces,
                shared,
            });
        }
        if errors.is_empty() {
            Ok(Model {
                families,
                enums,
                spec_dir: "protocol-spec".to_string(),
            })
        } else {
            Err(errors.join("\n"))
        }
    }

    /// The Rust type name of an enum (uniqueness is checked in `build`).
    pub fn enum_rust(spec_name: &str) -> Ident {
        Ident::new(&spec_name.to_pascal_case(), Span::call_site())
    }
}

/// Two wire names of one table must not become the same Rust field, and
/// object names must not clash with role structs.
fn check_fields(iface: &InterfaceFile, path: &str, errors: &mut Vec<String>) {
    let tables = iface
        .roles
        .iter()
        .map(|(r, role)| (r.as_str().to_string(), &role.fields))
        .chain(iface.objects.iter().map(|(n, o)| (n.clone(), &o.fields)));
    for (table, fields) in tables {
        check_field_names(path, &table, fields, errors);
    }
    for name in iface.objects.keys() {
        if RoleName::ALL
            .iter()
            .any(|r| role_struct(*r) == name.as_str())
        {
            errors.push(format!(
                "{path}: object `{name}` clashes with a role struct name"
            ));
        }
    }
}

/// Two wire names of one table must not become the same Rust field.
fn check_field_names(path: &str, table: &str, fields: &[Field], errors: &mut Vec<String>) {
    let mut seen = BTreeMap::new();
    for field in fields {
        let rust = field_ident(field.name.get_ref()).to_string();
        if let Some(other) = seen.insert(rust.clone(), field.name.get_ref().clone()) {
            errors.push(format!(
                "{path}: {table}: `{}` and `{other}` both become field `{rust}`",
                field.name.get_ref()
            ));
        }
    }
}

/// Sorts `3.10` after `3.9`.
fn section_key(section: &str) -> Vec<u32> {
    section
        .split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

/// Page text made safe for rustdoc: the documents' `<...>` placeholders and
/// `[...]` notes must not read as HTML tags or intra-doc links, and bare
/// URLs become links.
pub fn prose(text: &str) -> String {
    let escaped = text
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('[', "\\[")
        .replace(']', "\\]");
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    let next_url = |s: &str| {
        ["http://", "https://"]
            .iter()
            .filter_map(|scheme| s.find(scheme))
            .min()
    };
    while let Some(start) = next_url(rest) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(
                        c,
                        ',' | ';' | ')' | '(' | '"' | '\'' | '，' | '；' | '）' | '\\'
                    )
            })
            .unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ':']);
        out.push('<');
        out.push_str(url);
        out.push('>');
        rest = &tail[url.len()..];
    }
    out.push_str(rest);
    out
}

/// What a generated doc says of a row or code learnt elsewhere than the
/// page (`None` for the page's own).
pub fn provenance_doc(source: &FieldSource) -> Option<String> {
    match source {
        FieldSource::Page(_) => None,
        FieldSource::QuotedDocRow { quoted_doc_row } => Some(format!(
            "A page row seen only as quoted in code: {}.",
            code_link(quoted_doc_row)
        )),
        FieldSource::Code { code } => {
            let at = CodeLocation {
                repo: code.repo.clone(),
                commit: code.commit.clone(),
                path: code.path.clone(),
                line: code.line,
            };
            Some(format!(
                "From code, not a page: the type is inferred from `{}` in {}{}.",
                code.type_in_code.replace('`', "'"),
                code_link(&at),
                if code.rejects_missing {
                    ", which fails without the field"
                } else {
                    ""
                }
            ))
        }
    }
}

/// A link to a line of a public repository at the commit read.
pub fn code_link(at: &CodeLocation) -> String {
    format!(
        "[{}:{}](https://github.com/{}/blob/{}/{}#L{})",
        at.path.rsplit('/').next().unwrap_or(&at.path),
        at.line,
        at.repo,
        at.commit,
        at.path,
        at.line
    )
}

#[cfg(test)]
mod tests {
    use super::prose;

    #[test]
    fn page_text_is_made_safe_for_rustdoc() {
        assert_eq!(
            prose("see https://www.kancloud.cn/bolink/sdk/465671, <notify_url> [1]"),
            "see <https://www.kancloud.cn/bolink/sdk/465671>, &lt;notify_url&gt; \\[1\\]"
        );
        assert_eq!(prose("no links here"), "no links here");
    }
}
