//! `#[derive(Message)]`: wire reading and writing, validation, schema and the
//! service-name constant of a struct.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Error, Fields, Ident, Result, Type};

use crate::attr::{self, CodeLit, FieldAttrs, Presence, RuleAttr, StructAttrs, WireForm};

struct FieldInfo {
    ident: Ident,
    ty: Type,
    wire: String,
    is_option: bool,
    attrs: FieldAttrs,
}

impl FieldInfo {
    fn form(&self) -> TokenStream {
        let ty = &self.ty;
        match self.attrs.wire {
            Some(WireForm::Text) => quote!(::bolink_types::wire::Text),
            Some(WireForm::Number) => quote!(::bolink_types::wire::Number),
            Some(WireForm::Json) => quote!(::bolink_types::wire::Json),
            Some(WireForm::Nested) => quote!(::bolink_types::wire::Nested),
            None => quote_spanned!(ty_span(ty)=> <#ty as ::bolink_types::wire::DefaultWire>::Form),
        }
    }

    fn local(&self, prefix: &str) -> Ident {
        format_ident!("__{}_{}", prefix, self.ident.unraw())
    }

    /// An expression telling whether the field is present, given its rules
    /// parameter (`None` when it was sent but could not be read: present).
    fn present(&self) -> TokenStream {
        let param = self.local("r");
        if self.is_option {
            quote!(#param.map_or(true, |__x| __x.is_some()))
        } else {
            quote!(true)
        }
    }
}

fn ty_span(ty: &Type) -> Span {
    syn::spanned::Spanned::span(ty)
}

fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|seg| seg.ident == "Option"),
        _ => false,
    }
}

pub fn derive(input: DeriveInput) -> Result<TokenStream> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &input.generics,
            "#[derive(Message)] does not support generics",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(
            name.span(),
            "#[derive(Message)] is for structs with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(Error::new(
            name.span(),
            "#[derive(Message)] is for structs with named fields",
        ));
    };
    let sattrs = attr::parse_struct_attrs(&input.attrs)?;
    let mut fields = Vec::new();
    for field in &named.named {
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        let attrs = attr::parse_field_attrs(&field.attrs)?;
        let wire = attrs
            .rename
            .clone()
            .unwrap_or_else(|| ident.unraw().to_string());
        fields.push(FieldInfo {
            is_option: is_option(&field.ty),
            ident,
            ty: field.ty.clone(),
            wire,
            attrs,
        });
    }
    check_rules(&fields, &sattrs)?;
    if sattrs.service.is_some() && sattrs.path.is_some() {
        return Err(Error::new(
            sattrs.path.as_ref().map_or_else(Span::call_site, |p| p.1),
            "a message is keyed by `service` or by `path`, not both",
        ));
    }
    let keyed = sattrs.service.is_some() || sattrs.path.is_some();
    if keyed != sattrs.role.is_some() {
        let span = sattrs
            .service
            .as_ref()
            .or(sattrs.path.as_ref())
            .map(|s| s.1)
            .or(sattrs.role.as_ref().map(|r| r.1));
        return Err(Error::new(
            span.unwrap_or_else(Span::call_site),
            "a message needs both `service = \"...\"` (or `path = \"...\"`) and `role = \"...\"`",
        ));
    }

    let constants = constants(&sattrs);
    let read_fields = read_fields(&fields, &constants);
    let validate_in = validate_in(&fields);
    let rules = rules(&fields, &sattrs);
    let schema = schema(name, &fields, &sattrs, &constants);
    let serialize = serialize(&fields, &constants);
    let message = message_impl(name, &sattrs);

    Ok(quote! {
        const _: () = {
            use ::bolink_types::__private as __rt;

            #rules

            impl ::bolink_types::Object for #name {
                fn schema() -> &'static ::bolink_types::schema::ObjectSchema {
                    #schema
                }

                fn read_fields<'de, __A: __rt::serde::de::MapAccess<'de>>(
                    mut __map: __A,
                    __ctx: &mut ::bolink_types::Ctx,
                ) -> ::core::result::Result<::bolink_types::wire::Read<Self>, __A::Error> {
                    #read_fields
                }

                fn validate_in(&self, __ctx: &mut ::bolink_types::Ctx) {
                    #validate_in
                }
            }

            impl ::bolink_types::wire::Wire<::bolink_types::wire::Nested> for #name {
                const KIND: ::bolink_types::schema::Kind =
                    ::bolink_types::schema::Kind::Object(<#name as ::bolink_types::Object>::schema);

                fn write<__S: __rt::serde::Serializer>(&self, __s: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                    __rt::serde::Serialize::serialize(self, __s)
                }

                fn read<'de, __D: __rt::serde::Deserializer<'de>>(
                    __d: __D,
                    __ctx: &mut ::bolink_types::Ctx,
                ) -> ::core::result::Result<::bolink_types::wire::Read<Self>, __D::Error> {
                    ::bolink_types::wire::read_object::<Self, __D>(__d, __ctx)
                }

                fn wire_len(&self) -> usize {
                    0
                }

                fn validate_nested(&self, __ctx: &mut ::bolink_types::Ctx) {
                    ::bolink_types::Object::validate_in(self, __ctx)
                }
            }

            // Kept out of "other types implement" lists, which would
            // otherwise name every generated type.
            #[diagnostic::do_not_recommend]
            impl ::bolink_types::wire::DefaultWire for #name {
                type Form = ::bolink_types::wire::Nested;
            }

            impl __rt::serde::Serialize for #name {
                fn serialize<__S: __rt::serde::Serializer>(&self, __s: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                    #serialize
                }
            }

            impl<'de> __rt::serde::Deserialize<'de> for #name {
                fn deserialize<__D: __rt::serde::Deserializer<'de>>(__d: __D) -> ::core::result::Result<Self, __D::Error> {
                    __rt::deserialize::<Self, __D>(__d)
                }
            }

            #message
        };
    })
}

fn find<'a>(fields: &'a [FieldInfo], ident: &Ident) -> Result<&'a FieldInfo> {
    fields
        .iter()
        .find(|f| f.ident.unraw() == ident.unraw())
        .ok_or_else(|| Error::new(ident.span(), format!("no field `{ident}` in this struct")))
}

fn check_rules(fields: &[FieldInfo], sattrs: &StructAttrs) -> Result<()> {
    for field in fields {
        let Some(rule) = &field.attrs.rule else {
            continue;
        };
        if !field.is_option {
            return Err(Error::new(
                rule.span(),
                "a required rule needs an `Option<...>` field (a non-Option field is always required)",
            ));
        }
        match rule {
            RuleAttr::When { field: target, .. } => {
                find(fields, target)?;
            }
            RuleAttr::WhenPresent {
                fields: targets, ..
            } => {
                for target in targets {
                    find(fields, target)?;
                }
            }
            RuleAttr::WhenRequest { .. } | RuleAttr::External { .. } => {}
        }
    }
    for group in sattrs.together.iter().chain(&sattrs.at_least_one) {
        for ident in group {
            find(fields, ident)?;
        }
    }
    Ok(())
}

/// A key written as a fixed value: `service_name` and `constant(...)`.
struct ConstantKey {
    name: String,
    value: String,
    presence: Presence,
}

fn constants(sattrs: &StructAttrs) -> Vec<ConstantKey> {
    let mut out = Vec::new();
    if let Some((service, _)) = &sattrs.service {
        out.push(ConstantKey {
            name: "service_name".into(),
            value: service.clone(),
            presence: sattrs.service_name.unwrap_or(Presence::Required),
        });
    }
    for c in &sattrs.constants {
        out.push(ConstantKey {
            name: c.name.clone(),
            value: c.value.clone(),
            presence: if c.required {
                Presence::Required
            } else {
                Presence::Optional
            },
        });
    }
    out.retain(|c| c.presence != Presence::Absent);
    out
}

fn max_tokens(max: Option<usize>) -> TokenStream {
    match max {
        Some(m) => quote!(::core::option::Option::Some(#m)),
        None => quote!(::core::option::Option::None),
    }
}

fn read_fields(fields: &[FieldInfo], constants: &[ConstantKey]) -> TokenStream {
    let slots = fields.iter().map(|f| {
        let slot = f.local("slot");
        let ty = &f.ty;
        quote!(let mut #slot: __rt::Slot<#ty> = __rt::Slot::Unseen;)
    });
    let seen: Vec<Ident> = (0..constants.len())
        .map(|i| format_ident!("__seen_{}", i))
        .collect();
    let seen_init = seen.iter().map(|s| quote!(let mut #s = false;));
    let field_arms = fields.iter().map(|f| {
        let slot = f.local("slot");
        let ty = &f.ty;
        let form = f.form();
        let wire = &f.wire;
        let max = max_tokens(f.attrs.max_len);
        quote!(#wire => __rt::read_field::<_, #ty, #form>(&mut __map, __ctx, #wire, #max, &mut #slot)?,)
    });
    let const_arms = constants.iter().zip(&seen).map(|(c, s)| {
        let (n, v) = (&c.name, &c.value);
        quote!(#n => __rt::read_constant(&mut __map, __ctx, #n, #v, &mut #s)?,)
    });
    let const_checks = constants.iter().zip(&seen).map(|(c, s)| {
        let n = &c.name;
        let required = c.presence == Presence::Required;
        quote!(__rt::require_constant(__ctx, #n, #s, #required);)
    });
    let finishes = fields.iter().map(|f| {
        let slot = f.local("slot");
        let value = f.local("f");
        let ty = &f.ty;
        let form = f.form();
        let wire = &f.wire;
        quote!(let #value = __rt::finish::<#ty, #form>(#slot, __ctx, #wire);)
    });
    let values: Vec<Ident> = fields.iter().map(|f| f.local("f")).collect();
    let idents: Vec<&Ident> = fields.iter().map(|f| &f.ident).collect();
    let unpack = if fields.is_empty() {
        quote!()
    } else {
        quote! {
            let ( #( ::core::option::Option::Some(#values), )* ) = ( #( #values, )* ) else {
                return ::core::result::Result::Ok(::bolink_types::wire::Read::Invalid);
            };
        }
    };
    quote! {
        let __start = __ctx.mark();
        #(#slots)*
        #(#seen_init)*
        while let ::core::option::Option::Some(__key) = __rt::next_key(&mut __map)? {
            match &*__key {
                #(#field_arms)*
                #(#const_arms)*
                _ => __rt::unknown_key(&mut __map, __ctx, &__key)?,
            }
        }
        #(#const_checks)*
        #(#finishes)*
        // Rules run on what could be read, so that one message reports
        // every violation at once, not only the first kind found.
        __rules(__ctx, #( #values.as_ref(), )*);
        if __ctx.mark() != __start {
            return ::core::result::Result::Ok(::bolink_types::wire::Read::Invalid);
        }
        #unpack
        let __value = Self { #( #idents: #values, )* };
        if __ctx.mark() != __start {
            return ::core::result::Result::Ok(::bolink_types::wire::Read::Invalid);
        }
        ::core::result::Result::Ok(::bolink_types::wire::Read::Value(__value))
    }
}

fn validate_in(fields: &[FieldInfo]) -> TokenStream {
    let checks = fields.iter().map(|f| {
        let ident = &f.ident;
        let ty = &f.ty;
        let form = f.form();
        let wire = &f.wire;
        let len = f
            .attrs
            .max_len
            .map(|max| quote!(__rt::check_len::<#ty, #form>(__ctx, #wire, &self.#ident, #max);));
        quote! {
            #len
            __rt::check_nested::<#ty, #form>(__ctx, #wire, &self.#ident);
        }
    });
    let idents = fields.iter().map(|f| &f.ident);
    quote! {
        #(#checks)*
        __rules(__ctx, #( ::core::option::Option::Some(&self.#idents), )*);
    }
}

fn code_tokens(code: &CodeLit) -> TokenStream {
    match code {
        CodeLit::Int(i) => quote!(::bolink_types::CodeRef::Int(#i)),
        CodeLit::Str(s) => quote!(::bolink_types::CodeRef::Str(#s)),
    }
}

fn condition_text(fields: &[FieldInfo], rule: &RuleAttr) -> Result<String> {
    Ok(match rule {
        RuleAttr::When {
            field,
            codes,
            negated,
            ..
        } => {
            let target = find(fields, field)?;
            let codes: Vec<String> = codes.iter().map(CodeLit::display).collect();
            let verb = if *negated { "is not" } else { "is" };
            format!("{} {verb} {}", target.wire, codes.join(" or "))
        }
        RuleAttr::WhenPresent {
            fields: targets, ..
        } => {
            let names: Vec<String> = targets
                .iter()
                .map(|t| find(fields, t).map(|f| f.wire.clone()))
                .collect::<Result<_>>()?;
            let verb = if names.len() == 1 { "is" } else { "are" };
            format!("{} {verb} present", names.join(" and "))
        }
        RuleAttr::WhenRequest {
            field,
            codes,
            negated,
            ..
        } => {
            let codes: Vec<String> = codes.iter().map(CodeLit::display).collect();
            let verb = if *negated { "was not" } else { "was" };
            format!(
                "the request's {} {verb} {}",
                field.unraw(),
                codes.join(" or ")
            )
        }
        RuleAttr::External { text, .. } => text.clone(),
    })
}

fn rules(fields: &[FieldInfo], sattrs: &StructAttrs) -> TokenStream {
    let mut checks = Vec::new();
    for f in fields {
        let Some(rule) = &f.attrs.rule else { continue };
        let wire = &f.wire;
        let present = f.present();
        let Ok(condition) = condition_text(fields, rule) else {
            continue;
        };
        let triggered = match rule {
            RuleAttr::When {
                field,
                codes,
                negated,
                ..
            } => {
                let Ok(target) = find(fields, field) else {
                    continue;
                };
                let codes = codes.iter().map(code_tokens);
                let check = if *negated {
                    quote!(__rt::code_not_in)
                } else {
                    quote!(__rt::code_in)
                };
                let param = target.local("r");
                quote!(#param.is_some_and(|__x| #check(__x, &[#(#codes),*])))
            }
            RuleAttr::WhenPresent {
                fields: targets, ..
            } => {
                let presents = targets
                    .iter()
                    .filter_map(|t| find(fields, t).ok())
                    .map(FieldInfo::present);
                quote!(true #(&& #presents)*)
            }
            // Checked against the request (bolink_types::answer_rules), or
            // not at all: nothing in this message decides them.
            RuleAttr::WhenRequest { .. } | RuleAttr::External { .. } => continue,
        };
        checks.push(quote!(__rt::require_when(__ctx, #wire, #triggered, #present, #condition);));
    }
    let group = |groups: &[Vec<Ident>], func: TokenStream| -> Vec<TokenStream> {
        groups
            .iter()
            .map(|group| {
                let members: Vec<&FieldInfo> =
                    group.iter().filter_map(|i| find(fields, i).ok()).collect();
                let wires = members.iter().map(|m| &m.wire);
                let presents = members.iter().map(|m| m.present());
                quote!(#func(__ctx, &[#(#wires),*], &[#(#presents),*]);)
            })
            .collect()
    };
    checks.extend(group(&sattrs.together, quote!(__rt::together)));
    checks.extend(group(&sattrs.at_least_one, quote!(__rt::at_least_one)));
    // One parameter per field: `None` when the field could not be read.
    let params = fields.iter().map(|f| {
        let (param, ty) = (f.local("r"), &f.ty);
        quote!(#param: ::core::option::Option<&#ty>)
    });
    quote! {
        #[allow(unused_variables, clippy::too_many_arguments)]
        fn __rules(__ctx: &mut ::bolink_types::Ctx, #(#params),*) {
            #(#checks)*
        }
    }
}

fn presence_tokens(p: Presence) -> TokenStream {
    match p {
        Presence::Required => quote!(::bolink_types::schema::Presence::Required),
        Presence::Optional => quote!(::bolink_types::schema::Presence::Optional),
        Presence::Absent => quote!(::bolink_types::schema::Presence::Absent),
    }
}

fn schema(
    name: &Ident,
    fields: &[FieldInfo],
    sattrs: &StructAttrs,
    constants: &[ConstantKey],
) -> TokenStream {
    let rust_name = name.to_string();
    let service = match &sattrs.service {
        Some((s, _)) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    let service_presence = presence_tokens(if sattrs.service.is_some() {
        sattrs.service_name.unwrap_or(Presence::Required)
    } else {
        Presence::Absent
    });
    let consts = constants
        .iter()
        .filter(|c| c.name != "service_name")
        .map(|c| {
            let (n, v) = (&c.name, &c.value);
            let p = presence_tokens(c.presence);
            quote!(::bolink_types::schema::ConstantSchema { name: #n, value: #v, presence: #p })
        });
    let field_schemas = fields.iter().map(|f| {
        let wire = &f.wire;
        let rust = f.ident.unraw().to_string();
        let ty = &f.ty;
        let form = f.form();
        let max = max_tokens(f.attrs.max_len);
        let rule = match &f.attrs.rule {
            None if f.is_option => quote!(::bolink_types::schema::Rule::Optional),
            None => quote!(::bolink_types::schema::Rule::Always),
            Some(RuleAttr::When { field, codes, negated, .. }) => {
                let target = find(fields, field).map(|t| t.wire.clone()).unwrap_or_default();
                let codes = codes.iter().map(code_tokens);
                quote!(::bolink_types::schema::Rule::When { field: #target, codes: &[#(#codes),*], negated: #negated })
            }
            Some(RuleAttr::WhenPresent { fields: targets, .. }) => {
                let names = targets.iter().filter_map(|t| find(fields, t).ok()).map(|t| &t.wire);
                quote!(::bolink_types::schema::Rule::WhenPresent(&[#(#names),*]))
            }
            Some(RuleAttr::WhenRequest { field, codes, negated, .. }) => {
                let target = field.unraw().to_string();
                let codes = codes.iter().map(code_tokens);
                quote!(::bolink_types::schema::Rule::WhenRequest { field: #target, codes: &[#(#codes),*], negated: #negated })
            }
            Some(RuleAttr::External { text, .. }) => quote!(::bolink_types::schema::Rule::External(#text)),
        };
        quote! {
            ::bolink_types::schema::FieldSchema {
                name: #wire,
                rust_name: #rust,
                kind: <#ty as ::bolink_types::wire::Wire<#form>>::KIND,
                rule: #rule,
                max_len: #max,
            }
        }
    });
    let groups = |groups: &[Vec<Ident>]| -> Vec<TokenStream> {
        groups
            .iter()
            .map(|g| {
                let names = g
                    .iter()
                    .filter_map(|i| find(fields, i).ok())
                    .map(|f| &f.wire);
                quote!(&[#(#names),*])
            })
            .collect()
    };
    let together = groups(&sattrs.together);
    let at_least_one = groups(&sattrs.at_least_one);
    quote! {
        static __SCHEMA: ::bolink_types::schema::ObjectSchema = ::bolink_types::schema::ObjectSchema {
            rust_name: #rust_name,
            service_name: #service,
            service_name_presence: #service_presence,
            constants: &[#(#consts),*],
            fields: &[#(#field_schemas),*],
            together: &[#(#together),*],
            at_least_one: &[#(#at_least_one),*],
        };
        &__SCHEMA
    }
}

fn serialize(fields: &[FieldInfo], constants: &[ConstantKey]) -> TokenStream {
    let consts = constants.iter().map(|c| {
        let (n, v) = (&c.name, &c.value);
        quote!(__rt::serde::ser::SerializeMap::serialize_entry(&mut __map, #n, #v)?;)
    });
    let entries = fields.iter().map(|f| {
        let ident = &f.ident;
        let ty = &f.ty;
        let form = f.form();
        let wire = &f.wire;
        quote!(__rt::write_entry::<_, #ty, #form>(&mut __map, #wire, &self.#ident)?;)
    });
    quote! {
        let mut __map = __rt::serialize_map(__s)?;
        #(#consts)*
        #(#entries)*
        __rt::serde::ser::SerializeMap::end(__map)
    }
}

fn message_impl(name: &Ident, sattrs: &StructAttrs) -> TokenStream {
    let key = sattrs.service.as_ref().or(sattrs.path.as_ref());
    let (Some((service, _)), Some((role, _))) = (key, &sattrs.role) else {
        return quote!();
    };
    let role = format_ident!("{}", heck_pascal(&role.to_string()));
    quote! {
        impl ::bolink_types::Message for #name {
            const SERVICE_NAME: &'static str = #service;
            const ROLE: ::bolink_types::Role = ::bolink_types::Role::#role;
        }
    }
}

/// `sdk_return` -> `SdkReturn`.
pub fn heck_pascal(snake: &str) -> String {
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}
