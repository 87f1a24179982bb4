//! Parsing of `#[bolink(...)]` attributes, with errors that point at the
//! offending token.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Error, Ident, Lit, LitInt, LitStr, Result, Token};

/// A code in a rule: `0`, `"scancode"`.
#[derive(Clone)]
pub enum CodeLit {
    Int(i64),
    Str(String),
}

impl CodeLit {
    pub fn display(&self) -> String {
        match self {
            CodeLit::Int(i) => i.to_string(),
            CodeLit::Str(s) => format!("{s:?}"),
        }
    }
}

/// A field's conditional rule.
#[derive(Clone)]
pub enum RuleAttr {
    /// `required_if(field = [codes])` / `required_if_not(field = [codes])`.
    When {
        field: Ident,
        codes: Vec<CodeLit>,
        negated: bool,
        span: Span,
    },
    /// `required_if_present(a, b)`.
    WhenPresent { fields: Vec<Ident>, span: Span },
    /// `required_if_request(field = [codes])` /
    /// `required_if_request_not(field = [codes])`: a field of an answer
    /// required by what the request it answers held. `field` is the
    /// request's wire name; the request's type is not known here, so the
    /// rule is checked against a request at run time (see
    /// `bolink_types::answer_rules`), not on decoding the answer alone.
    WhenRequest {
        field: Ident,
        codes: Vec<CodeLit>,
        negated: bool,
        span: Span,
    },
    /// `external = "..."`.
    External { text: String, span: Span },
}

impl RuleAttr {
    pub fn span(&self) -> Span {
        match self {
            RuleAttr::When { span, .. }
            | RuleAttr::WhenRequest { span, .. }
            | RuleAttr::WhenPresent { span, .. }
            | RuleAttr::External { span, .. } => *span,
        }
    }
}

/// The wire forms a field can name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WireForm {
    Text,
    Number,
    Json,
    Nested,
}

#[derive(Default)]
pub struct FieldAttrs {
    pub rename: Option<String>,
    pub wire: Option<WireForm>,
    pub max_len: Option<usize>,
    pub rule: Option<RuleAttr>,
}

pub struct Constant {
    pub name: String,
    pub value: String,
    pub required: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    Absent,
}

#[derive(Default)]
pub struct StructAttrs {
    pub service: Option<(String, Span)>,
    /// The URL path of a new-API interface addressed by path: its key as a
    /// `Message`, while the message carries no service_name.
    pub path: Option<(String, Span)>,
    pub role: Option<(Ident, Span)>,
    pub service_name: Option<Presence>,
    pub constants: Vec<Constant>,
    pub together: Vec<Vec<Ident>>,
    pub at_least_one: Vec<Vec<Ident>>,
}

pub const ROLES: [&str; 6] = [
    "request",
    "http_request",
    "sdk_return",
    "http_return",
    "async_result",
    "response",
];

fn bolink_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("bolink"))
}

fn unknown(meta: &ParseNestedMeta, allowed: &str) -> Error {
    let name = meta
        .path
        .get_ident()
        .map_or_else(|| "?".to_string(), |i| i.to_string());
    meta.error(format!(
        "unknown bolink attribute `{name}`; expected one of: {allowed}"
    ))
}

pub fn parse_struct_attrs(attrs: &[Attribute]) -> Result<StructAttrs> {
    let mut out = StructAttrs::default();
    for attr in bolink_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("service") {
                let lit: LitStr = meta.value()?.parse()?;
                out.service = Some((lit.value(), lit.span()));
            } else if meta.path.is_ident("path") {
                let lit: LitStr = meta.value()?.parse()?;
                out.path = Some((lit.value(), lit.span()));
            } else if meta.path.is_ident("role") {
                let lit: LitStr = meta.value()?.parse()?;
                if !ROLES.contains(&lit.value().as_str()) {
                    return Err(Error::new(
                        lit.span(),
                        format!("unknown role; expected one of: {}", ROLES.join(", ")),
                    ));
                }
                out.role = Some((Ident::new(&lit.value(), lit.span()), lit.span()));
            } else if meta.path.is_ident("service_name") {
                let lit: LitStr = meta.value()?.parse()?;
                out.service_name = Some(match lit.value().as_str() {
                    "required" => Presence::Required,
                    "optional" => Presence::Optional,
                    "absent" => Presence::Absent,
                    _ => {
                        return Err(Error::new(
                            lit.span(),
                            "service_name must be \"required\", \"optional\" or \"absent\"",
                        ))
                    }
                });
            } else if meta.path.is_ident("constant") {
                let mut name = None;
                let mut value = None;
                let mut required = true;
                meta.parse_nested_meta(|inner| {
                    if inner.path.is_ident("name") {
                        name = Some(inner.value()?.parse::<LitStr>()?.value());
                    } else if inner.path.is_ident("value") {
                        value = Some(inner.value()?.parse::<LitStr>()?.value());
                    } else if inner.path.is_ident("optional") {
                        required = false;
                    } else {
                        return Err(unknown(&inner, "name, value, optional"));
                    }
                    Ok(())
                })?;
                match (name, value) {
                    (Some(name), Some(value)) => out.constants.push(Constant {
                        name,
                        value,
                        required,
                    }),
                    _ => {
                        return Err(meta.error("constant needs name = \"...\" and value = \"...\""))
                    }
                }
            } else if meta.path.is_ident("together") {
                out.together.push(parse_ident_list(&meta)?);
            } else if meta.path.is_ident("at_least_one") {
                out.at_least_one.push(parse_ident_list(&meta)?);
            } else {
                return Err(unknown(
                    &meta,
                    "service, path, role, service_name, constant, together, at_least_one",
                ));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn parse_ident_list(meta: &ParseNestedMeta) -> Result<Vec<Ident>> {
    let mut idents = Vec::new();
    meta.parse_nested_meta(|inner| {
        match inner.path.get_ident() {
            Some(ident) => idents.push(ident.clone()),
            None => return Err(inner.error("expected a field name")),
        }
        Ok(())
    })?;
    if idents.len() < 2 {
        return Err(meta.error("a field group needs at least two fields"));
    }
    Ok(idents)
}

pub fn parse_field_attrs(attrs: &[Attribute]) -> Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in bolink_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            let span = meta.path.get_ident().map_or_else(Span::call_site, Ident::span);
            if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("wire") {
                let lit: LitStr = meta.value()?.parse()?;
                out.wire = Some(match lit.value().as_str() {
                    "text" => WireForm::Text,
                    "number" => WireForm::Number,
                    "json" => WireForm::Json,
                    "nested" => WireForm::Nested,
                    _ => {
                        return Err(Error::new(
                            lit.span(),
                            "unknown wire form; expected \"text\", \"number\", \"json\" or \"nested\"",
                        ))
                    }
                });
            } else if meta.path.is_ident("max_len") {
                let lit: LitInt = meta.value()?.parse()?;
                let max: usize = lit.base10_parse()?;
                if max == 0 {
                    return Err(Error::new(lit.span(), "max_len 0 allows nothing"));
                }
                out.max_len = Some(max);
            } else if meta.path.is_ident("required_if") || meta.path.is_ident("required_if_not") {
                set_rule(&mut out, span, parse_when(&meta, meta.path.is_ident("required_if_not"), span)?)?;
            } else if meta.path.is_ident("required_if_request")
                || meta.path.is_ident("required_if_request_not")
            {
                let negated = meta.path.is_ident("required_if_request_not");
                let RuleAttr::When { field, codes, .. } = parse_when(&meta, negated, span)? else {
                    unreachable!("parse_when returns a When rule")
                };
                set_rule(&mut out, span, RuleAttr::WhenRequest { field, codes, negated, span })?;
            } else if meta.path.is_ident("required_if_present") {
                let fields = parse_present_list(&meta)?;
                set_rule(&mut out, span, RuleAttr::WhenPresent { fields, span })?;
            } else if meta.path.is_ident("external") {
                let lit: LitStr = meta.value()?.parse()?;
                set_rule(&mut out, span, RuleAttr::External { text: lit.value(), span })?;
            } else {
                return Err(unknown(
                    &meta,
                    "rename, wire, max_len, required_if, required_if_not, required_if_request, required_if_request_not, required_if_present, external",
                ));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn set_rule(out: &mut FieldAttrs, span: Span, rule: RuleAttr) -> Result<()> {
    if out.rule.is_some() {
        return Err(Error::new(span, "a field has at most one required rule"));
    }
    out.rule = Some(rule);
    Ok(())
}

fn parse_present_list(meta: &ParseNestedMeta) -> Result<Vec<Ident>> {
    let mut idents = Vec::new();
    meta.parse_nested_meta(|inner| {
        match inner.path.get_ident() {
            Some(ident) => idents.push(ident.clone()),
            None => return Err(inner.error("expected a field name")),
        }
        Ok(())
    })?;
    if idents.is_empty() {
        return Err(meta.error("required_if_present needs at least one field"));
    }
    Ok(idents)
}

/// `required_if(pay_scene = [0, 2])`.
fn parse_when(meta: &ParseNestedMeta, negated: bool, span: Span) -> Result<RuleAttr> {
    let mut result = None;
    meta.parse_nested_meta(|inner| {
        let field = inner
            .path
            .get_ident()
            .cloned()
            .ok_or_else(|| inner.error("expected a field name"))?;
        let value = inner.value()?;
        let content;
        syn::bracketed!(content in value);
        let lits = content.parse_terminated(Lit::parse, Token![,])?;
        let mut codes = Vec::new();
        for lit in lits {
            codes.push(match lit {
                Lit::Int(i) => CodeLit::Int(i.base10_parse()?),
                Lit::Str(s) => CodeLit::Str(s.value()),
                other => return Err(Error::new(other.span(), "codes are integers or strings")),
            });
        }
        if codes.is_empty() {
            return Err(inner.error("a rule needs at least one code"));
        }
        if result.is_some() {
            return Err(inner.error("a rule looks at one field"));
        }
        result = Some(RuleAttr::When {
            field,
            codes,
            negated,
            span,
        });
        Ok(())
    })?;
    result.ok_or_else(|| meta.error("expected `required_if(field = [codes])`"))
}

use syn::parse::Parse;

/// `#[bolink(code = 0, label = "...")]` on an enum variant.
pub struct VariantAttrs {
    pub code: Option<CodeLit>,
    pub label: String,
}

pub fn parse_variant_attrs(attrs: &[Attribute]) -> Result<VariantAttrs> {
    let mut out = VariantAttrs {
        code: None,
        label: String::new(),
    };
    for attr in bolink_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("code") {
                out.code = Some(match meta.value()?.parse::<Lit>()? {
                    Lit::Int(i) => CodeLit::Int(i.base10_parse()?),
                    Lit::Str(s) => CodeLit::Str(s.value()),
                    other => {
                        return Err(Error::new(other.span(), "a code is an integer or a string"))
                    }
                });
            } else if meta.path.is_ident("label") {
                out.label = meta.value()?.parse::<LitStr>()?.value();
            } else {
                return Err(unknown(&meta, "code, label"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// `#[bolink(codes = "integer")]` / `#[bolink(codes = "string", closed)]` on an enum.
pub struct EnumAttrs {
    pub integer: bool,
    pub closed: bool,
}

pub fn parse_enum_attrs(attrs: &[Attribute], span: Span) -> Result<EnumAttrs> {
    let mut integer = None;
    let mut closed = false;
    for attr in bolink_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("codes") {
                let lit: LitStr = meta.value()?.parse()?;
                integer = Some(match lit.value().as_str() {
                    "integer" => true,
                    "string" => false,
                    _ => {
                        return Err(Error::new(
                            lit.span(),
                            "codes must be \"integer\" or \"string\"",
                        ))
                    }
                });
            } else if meta.path.is_ident("closed") {
                closed = true;
            } else {
                return Err(unknown(&meta, "codes, closed"));
            }
            Ok(())
        })?;
    }
    let integer = integer.ok_or_else(|| {
        Error::new(
            span,
            "a code enum needs #[bolink(codes = \"integer\")] or #[bolink(codes = \"string\")]",
        )
    })?;
    Ok(EnumAttrs { integer, closed })
}
