//! `generated/<family>/<interface>.rs`: one module per interface, one struct
//! per message role, one per nested object.

use bolink_spec::model::{
    Code, Completeness, Direction, EnumWire, Field, FieldType, Follows, Presence, Required, Role,
    RoleName,
};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use super::names::{
    code_link, field_ident, prose, provenance_doc, role_struct, FamilyModel, IfaceModel, Model,
};

pub fn file(iface: &IfaceModel, model: &Model) -> TokenStream {
    let spec = iface.spec;
    let mut doc = format!(
        "{} ({}, section {}): {}.\n\n{}",
        spec.title,
        spec.document.dir(),
        spec.section,
        spec.title_en,
        prose(spec.summary.trim())
    );
    if let Some(service) = &spec.service_name {
        doc.push_str(&format!("\n\n`service_name`: `{service}`."));
    }
    if let Some(path) = &spec.url_path {
        doc.push_str(&format!("\n\nURL path: `{path}`."));
    }
    doc.push_str(&format!(
        "\n\nDirection: {:?}. Spec: `{}/{}`.",
        spec.direction, model.spec_dir, iface.spec_path
    ));
    if spec.status == Completeness::FromCode {
        doc.push_str(
            "\n\nFrom code: no page of this interface was seen. Its tables are what public \
             programs send, read and answer, an inference as good as its sources: each \
             field names the code it comes from.",
        );
    }
    if !spec.missing.is_empty() {
        let heading = match spec.status {
            Completeness::FromCode => "Not known without the page:",
            _ => "Partial: the public page does not show everything. Not known:",
        };
        doc.push_str(&format!("\n\n{heading}"));
        for m in &spec.missing {
            doc.push_str(&format!("\n- {}", prose(m)));
        }
    }
    for note in &spec.notes {
        doc.push_str(&format!("\n\n{}", prose(note)));
    }
    let roles = spec
        .roles
        .iter()
        .map(|(name, role)| role_struct_tokens(iface, *name, role));
    let objects = spec.objects.iter().map(|(name, object)| {
        let ident = Ident::new(name, Span::call_site());
        let doc = format!(
            "{} (nested object of `{}`).",
            prose(&object.label),
            spec.title
        );
        struct_tokens(
            &ident,
            &doc,
            None,
            &object.fields,
            &object.together,
            &object.at_least_one,
        )
    });
    // The request's answer type: the table the handlers answer in (the
    // HTTP-mode one where the page has both), else the page's only answer.
    let answered = ANSWER_ROLES
        .iter()
        .find(|r| spec.roles.contains_key(r))
        .filter(|_| spec.roles.contains_key(&RoleName::Request))
        .map(|answer| {
            let answer = role_struct(*answer);
            quote! {
                impl ::bolink_types::Answered for Request {
                    type Answer = #answer;
                }
            }
        });
    quote! {
        #![doc = #doc]
        #(#roles)*
        #answered
        #(#objects)*
    }
}

/// Which table answers a request, in order of preference.
const ANSWER_ROLES: [RoleName; 4] = [
    RoleName::HttpReturn,
    RoleName::SdkReturn,
    RoleName::Response,
    RoleName::AsyncResult,
];

/// `generated/<family>/shared.rs`: the family's shared objects, one struct
/// each, read and written like any message but bound to no service.
pub fn shared_file(family: &FamilyModel) -> TokenStream {
    let structs = family.shared.iter().map(|shared| {
        let object = shared.object;
        let mut doc = format!(
            "{}.\n\nShared by many interfaces, so not tied to one `service_name`: decode it with \
             [`crate::decode`]. Spec: `protocol-spec/{}`.\n\nSource: {}",
            prose(object.label.trim_end_matches('.')),
            shared.spec_path,
            prose(&object.source)
        );
        for note in &object.notes {
            doc.push_str(&format!("\n\n{}", prose(note)));
        }
        struct_tokens(
            &shared.ident,
            &doc,
            None,
            &object.fields,
            &object.together,
            &object.at_least_one,
        )
    });
    let doc = format!(
        "Message shapes that many interfaces of this family share, from \
         `protocol-spec/definitions/{}.toml`; re-exported at the family's root.",
        family.module
    );
    quote! {
        #![doc = #doc]
        #(#structs)*
    }
}

fn role_doc(role: RoleName, direction: Direction) -> &'static str {
    match role {
        RoleName::Request => "The message (the page's first table).",
        RoleName::HttpRequest => "The HTTP-mode variant of the message.",
        RoleName::SdkReturn => "The answer in SDK mode.",
        // The platform answers an upload with the body of its HTTP response;
        // a lot answers a downstream message inside an envelope.
        RoleName::HttpReturn if direction == Direction::Upstream => {
            "The platform's answer in HTTP mode: the body of its response."
        }
        RoleName::HttpReturn => "The answer in HTTP mode: the fields inside the envelope's `data`.",
        RoleName::AsyncResult => "The asynchronous result of the upload.",
        RoleName::Response => "The synchronous HTTP response.",
    }
}

fn role_struct_tokens(iface: &IfaceModel, name: RoleName, role: &Role) -> TokenStream {
    let ident = role_struct(name);
    let mut doc = format!(
        "{} `{}` {}",
        iface.spec.title,
        name.as_str(),
        role_doc(name, iface.spec.direction)
    );
    for note in &role.notes {
        doc.push_str(&format!("\n\n{}", prose(note)));
    }
    struct_tokens(
        &ident,
        &doc,
        Some((iface, name)),
        &role.fields,
        &role.together,
        &role.at_least_one,
    )
}

fn struct_tokens(
    ident: &Ident,
    doc: &str,
    message: Option<(&IfaceModel, RoleName)>,
    fields: &[Field],
    together: &[Vec<String>],
    at_least_one: &[Vec<String>],
) -> TokenStream {
    let mut struct_attrs = Vec::new();
    if let Some((iface, role)) = message {
        if let Some(service) = &iface.spec.service_name {
            let role = role.as_str();
            struct_attrs.push(quote!(service = #service));
            struct_attrs.push(quote!(role = #role));
            let presence = fields
                .iter()
                .find(|f| f.ty == FieldType::ServiceName)
                .map_or("absent", |f| match f.required {
                    Required::Simple(Presence::Always) => "required",
                    _ => "optional",
                });
            struct_attrs.push(quote!(service_name = #presence));
        } else if let Some(path) = &iface.spec.url_path {
            // A new-API interface addressed by path: its URL path is its key
            // as a `Message`, like any other; it carries no service_name.
            let role = role.as_str();
            struct_attrs.push(quote!(path = #path));
            struct_attrs.push(quote!(role = #role));
        }
    }
    for field in fields.iter().filter(|f| f.fixed.is_some()) {
        let name = field.name.get_ref();
        let value = field.fixed.as_deref().unwrap_or_default();
        if matches!(field.required, Required::Simple(Presence::Always)) {
            struct_attrs.push(quote!(constant(name = #name, value = #value)));
        } else {
            struct_attrs.push(quote!(constant(name = #name, value = #value, optional)));
        }
    }
    for group in together {
        let idents = group.iter().map(|n| field_ident(n));
        struct_attrs.push(quote!(together(#(#idents),*)));
    }
    for group in at_least_one {
        let idents = group.iter().map(|n| field_ident(n));
        struct_attrs.push(quote!(at_least_one(#(#idents),*)));
    }
    let bolink_attr = if struct_attrs.is_empty() {
        quote!()
    } else {
        quote!(#[bolink(#(#struct_attrs),*)])
    };

    let data_fields: Vec<&Field> = fields
        .iter()
        .filter(|f| f.ty != FieldType::ServiceName && f.fixed.is_none())
        .collect();
    let field_tokens = data_fields.iter().map(|f| field_tokens(f));
    let required: Vec<&&Field> = data_fields.iter().filter(|f| is_always(f)).collect();
    // Text arguments take anything that becomes a String (`"A1"` as well
    // as a `String`); the other types are taken as they are, so that a
    // literal still infers (`20` for an i64).
    let is_text = |f: &Field| matches!(f.ty, FieldType::String);
    let args = required.iter().map(|f| {
        let ident = field_ident(f.name.get_ref());
        let ty = value_type(f);
        if is_text(f) {
            quote!(#ident: impl ::core::convert::Into<#ty>)
        } else {
            quote!(#ident: #ty)
        }
    });
    let inits = data_fields.iter().map(|f| {
        let ident = field_ident(f.name.get_ref());
        if !is_always(f) {
            quote!(#ident: None)
        } else if is_text(f) {
            quote!(#ident: #ident.into())
        } else {
            quote!(#ident)
        }
    });
    // A builder-style setter per optional field, named as the field.
    let setters = data_fields.iter().filter(|f| !is_always(f)).map(|f| {
        let ident = field_ident(f.name.get_ref());
        let ty = value_type(f);
        let doc = format!("Sets `{}` (builder style).", f.name.get_ref());
        quote! {
            #[doc = #doc]
            #[must_use]
            pub fn #ident(mut self, value: impl ::core::convert::Into<#ty>) -> Self {
                self.#ident = ::core::option::Option::Some(value.into());
                self
            }
        }
    });
    let new_doc = format!("A `{ident}` with its required fields; optional ones start as `None`.");
    // Without required fields, `new()` is the natural `Default`.
    let default_impl = required.is_empty().then(|| {
        quote! {
            impl ::core::default::Default for #ident {
                fn default() -> Self {
                    Self::new()
                }
            }
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, ::bolink_types::Message)]
        #bolink_attr
        #[non_exhaustive]
        pub struct #ident {
            #(#field_tokens)*
        }

        impl #ident {
            #[doc = #new_doc]
            #[allow(clippy::too_many_arguments)]
            pub fn new(#(#args),*) -> Self {
                Self { #(#inits),* }
            }

            #(#setters)*
        }

        #default_impl
    }
}

fn is_always(f: &Field) -> bool {
    matches!(f.required, Required::Simple(Presence::Always))
}

/// The Rust type of the value (without the `Option` of optional fields).
fn value_type(f: &Field) -> TokenStream {
    match f.ty {
        FieldType::ServiceName | FieldType::String => quote!(String),
        FieldType::Integer => quote!(i64),
        FieldType::Decimal => quote!(::bolink_types::Decimal),
        FieldType::MoneyString | FieldType::MoneyNumber => quote!(::bolink_types::Money),
        FieldType::UnixSeconds => quote!(::bolink_types::UnixSeconds),
        FieldType::UnixMillis => quote!(::bolink_types::UnixMillis),
        FieldType::Enum => {
            let name = super::names::Model::enum_rust(
                f.enum_ref
                    .as_ref()
                    .map(|e| e.get_ref().as_str())
                    .unwrap_or_default(),
            );
            // Relative, so that the same code works in bolink-types (generated/<family>/<module>.rs
            // beside generated/enums.rs) and in a vendor's generated file (`enums` beside the
            // family modules, re-exporting bolink-types' enums).
            quote!(super::super::enums::#name)
        }
        FieldType::Object => {
            let name = object_ident(f);
            quote!(#name)
        }
        FieldType::Array => {
            let name = object_ident(f);
            quote!(Vec<#name>)
        }
        FieldType::Json => quote!(::serde_json::Value),
    }
}

fn object_ident(f: &Field) -> Ident {
    Ident::new(
        f.object
            .as_ref()
            .map(|o| o.get_ref().as_str())
            .unwrap_or("Object"),
        Span::call_site(),
    )
}

fn code_literal(code: &Code) -> Literal {
    match code {
        Code::Int(i) => Literal::i64_unsuffixed(*i),
        Code::Str(s) => Literal::string(s),
    }
}

fn field_tokens(f: &Field) -> TokenStream {
    let wire = f.name.get_ref();
    let ident = field_ident(wire);
    let value = value_type(f);
    let ty = if is_always(f) {
        value
    } else {
        quote!(Option<#value>)
    };
    let mut attrs = Vec::new();
    if ident.to_string().trim_start_matches("r#") != wire.as_str() {
        attrs.push(quote!(rename = #wire));
    }
    let wire_form = match (f.ty, f.wire) {
        (FieldType::MoneyString, _) | (FieldType::Enum, Some(EnumWire::String)) => Some("text"),
        (FieldType::MoneyNumber, _) | (FieldType::Enum, Some(EnumWire::Number)) => Some("number"),
        _ => None,
    };
    if let Some(form) = wire_form {
        attrs.push(quote!(wire = #form));
    }
    if let Some(max) = f.max_len {
        let max = Literal::usize_unsuffixed(max as usize);
        attrs.push(quote!(max_len = #max));
    }
    match &f.required {
        Required::When(rule) => {
            let target = field_ident(&rule.when);
            let (codes, negated) = rule_codes(&rule.is_in, &rule.not_in);
            let codes = codes.iter().map(code_literal);
            if negated {
                attrs.push(quote!(required_if_not(#target = [#(#codes),*])));
            } else {
                attrs.push(quote!(required_if(#target = [#(#codes),*])));
            }
        }
        Required::WhenPresent(rule) => {
            let idents = rule.when_present.iter().map(|n| field_ident(n));
            attrs.push(quote!(required_if_present(#(#idents),*)));
        }
        Required::WhenRequest(rule) => {
            // The request's wire name, as an identifier (the derive reads it back as text).
            let target = Ident::new(&rule.request_when, Span::call_site());
            let (codes, negated) = rule_codes(&rule.is_in, &rule.not_in);
            let codes = codes.iter().map(code_literal);
            if negated {
                attrs.push(quote!(required_if_request_not(#target = [#(#codes),*])));
            } else {
                attrs.push(quote!(required_if_request(#target = [#(#codes),*])));
            }
        }
        Required::External(rule) => {
            let text = &rule.external;
            attrs.push(quote!(external = #text));
        }
        Required::Simple(_) => {}
    }
    let bolink = if attrs.is_empty() {
        quote!()
    } else {
        quote!(#[bolink(#(#attrs),*)])
    };
    let doc = field_doc(f);
    quote! {
        #[doc = #doc]
        #bolink
        pub #ident: #ty,
    }
}

/// A rule's codes and whether they are `not_in` ones (the spec check makes
/// sure a rule has exactly one of the two lists).
fn rule_codes<'a>(
    is_in: &'a Option<Vec<Code>>,
    not_in: &'a Option<Vec<Code>>,
) -> (&'a [Code], bool) {
    match (is_in, not_in) {
        (Some(codes), _) => (codes, false),
        (None, Some(codes)) => (codes, true),
        (None, None) => (&[], false),
    }
}

fn codes_text(codes: &[Code]) -> String {
    let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
    codes.join(" or ")
}

fn field_doc(f: &Field) -> String {
    let wire = f.name.get_ref();
    let mut doc = if f.label.is_empty() {
        format!("`{wire}`.")
    } else {
        format!("{} (`{wire}`).", prose(&f.label))
    };
    match &f.required {
        Required::Simple(Presence::Always) => doc.push_str(" Required."),
        Required::Simple(Presence::Optional) => doc.push_str(" Optional."),
        Required::When(rule) => {
            let (codes, negated) = rule_codes(&rule.is_in, &rule.not_in);
            let verb = if negated { "is not" } else { "is" };
            doc.push_str(&format!(
                " Required when `{}` {verb} {}.",
                rule.when,
                codes_text(codes)
            ));
        }
        Required::WhenPresent(rule) => {
            doc.push_str(&format!(
                " Required when {} are present.",
                rule.when_present.join(" and ")
            ));
        }
        Required::WhenRequest(rule) => {
            let (codes, negated) = rule_codes(&rule.is_in, &rule.not_in);
            let verb = if negated { "was not" } else { "was" };
            doc.push_str(&format!(
                " Required when the request's `{}` {verb} {} (checked against the request: `bolink_types::answer_rules`).",
                rule.request_when,
                codes_text(codes)
            ));
        }
        Required::External(rule) => {
            doc.push_str(&format!(
                " Required {} (not checked: the condition lies outside the message).",
                prose(rule.external.trim_start_matches("required "))
            ));
        }
    }
    if let Some(max) = f.max_len {
        doc.push_str(&format!(" At most {max} characters."));
    }
    if let Some(example) = &f.example {
        if !example.is_empty() {
            doc.push_str(&format!(" Example: `{}`.", example.replace('`', "'")));
        }
    }
    if let Some(text) = &f.required_text {
        doc.push_str(&format!(
            "\n\nThe document's required cell: {}",
            prose(text)
        ));
    }
    if let Some(note) = &f.note {
        doc.push_str(&format!("\n\n{}", prose(note)));
    }
    if let Some(text) = provenance_doc(f.provenance()) {
        doc.push_str(&format!("\n\n{text}"));
    }
    if let Some(dispute) = &f.code_disagrees {
        let follows = match dispute.follows {
            Follows::Page => "the page",
            Follows::Code => "the code",
        };
        doc.push_str(&format!(
            "\n\nThe code disagrees ({}): {}. The type follows {follows}: {}",
            code_link(&dispute.at),
            prose(&dispute.code_says),
            prose(&dispute.why)
        ));
    }
    doc
}
