//! `generated/<family>/mod.rs`: the interface modules and the per-role enums
//! that dispatch on `service_name` (or the URL path).

use std::collections::BTreeMap;

use bolink_spec::model::{Family, RoleName};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use super::names::{role_struct, FamilyModel, SHARED_MODULE};

pub fn file(family: &FamilyModel) -> TokenStream {
    let doc = match family.family {
        Family::Sdk => "Messages of the SDK protocol (停车收费系统对接协议) and its HTTP mode (停车系统与车场SDK接口协议(含http模式)): one module per interface, and one enum per role that dispatches on `service_name`.",
        Family::Newapi => "Messages of the new platform API (新版泊链API接口文档(车场平台)): one module per interface, and one enum per role that dispatches on `service_name` or, for interfaces addressed by URL path only, on the path.",
    };
    let mut doc = doc.to_string();
    if !family.shared.is_empty() {
        doc.push_str(" The message shapes that many of its interfaces share are at its root too.");
    }
    let modules = family.interfaces.iter().map(|i| {
        let module = &i.module;
        let doc = i.spec.title.clone();
        quote! {
            #[doc = #doc]
            pub mod #module;
        }
    });

    // Keys shared by several interfaces (the new API's generic uploadData
    // path) cannot dispatch: only unique keys get an arm.
    let mut path_uses: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &family.interfaces {
        if let Some(path) = &i.spec.url_path {
            *path_uses.entry(path.as_str()).or_default() += 1;
        }
    }
    let mut roles_present = Vec::new();
    let mut role_enums = Vec::new();
    for role in RoleName::ALL {
        let mut arms = Vec::new();
        for i in &family.interfaces {
            if !i.spec.roles.contains_key(&role) {
                continue;
            }
            let mut keys = Vec::new();
            if let Some(service) = &i.spec.service_name {
                keys.push(service.clone());
            }
            if let Some(path) = &i.spec.url_path {
                if path_uses.get(path.as_str()) == Some(&1) {
                    keys.push(path.clone());
                }
            }
            // One key per variant, so that `key()` has one answer: an
            // interface with both a service name and a unique path is keyed
            // by its service name.
            if let Some(key) = keys.first() {
                let module = &i.module;
                let ty = role_struct(role);
                arms.push(Arm {
                    variant: i.variant.clone(),
                    ty: quote! { #module::#ty },
                    key: Literal::string(key),
                    doc: format!("{} ({})", i.spec.title, i.spec.title_en),
                });
            }
        }
        if arms.is_empty() {
            continue;
        }
        roles_present.push(role);
        role_enums.push(role_enum(role, &arms));
    }
    let family_enum = family_message(&roles_present);
    // Shared objects live in a private module and are re-exported here, so
    // that they read as `sdk::Ack`.
    let shared = (!family.shared.is_empty()).then(|| {
        let module = Ident::new(SHARED_MODULE, Span::call_site());
        let names = family.shared.iter().map(|s| &s.ident);
        quote! {
            mod #module;
            pub use #module::{#(#names),*};
        }
    });
    quote! {
        #![doc = #doc]
        #(#modules)*
        #shared
        #(#role_enums)*
        #family_enum
    }
}

/// One variant of a role enum: an interface's message of that role.
struct Arm {
    variant: Ident,
    ty: TokenStream,
    key: Literal,
    doc: String,
}

/// The enum of every message of one role in a family, with decoding that
/// dispatches on its key (`service_name`, or the URL path).
fn role_enum(role: RoleName, arms: &[Arm]) -> TokenStream {
    let name = role_struct(role);
    let doc = format!("Every `{}` message of this family.", role.as_str());
    let variants: Vec<_> = arms.iter().map(|a| &a.variant).collect();
    let types: Vec<_> = arms.iter().map(|a| &a.ty).collect();
    let keys: Vec<_> = arms.iter().map(|a| &a.key).collect();
    let docs = arms.iter().map(|a| &a.doc);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        // Messages differ a lot in size; boxing each would cost an
        // allocation per decode to save stack space that dispatch code
        // rarely keeps.
        #[allow(clippy::large_enum_variant)]
        pub enum #name {
            #( #[doc = #docs] #variants(#types), )*
        }

        impl #name {
            /// The keys (`service_name`, or URL path for path-addressed new-API interfaces) this enum dispatches on.
            pub const KEYS: &'static [&'static str] = &[#(#keys),*];

            /// Decodes and validates a message, dispatching on its `service_name`.
            pub fn decode(bytes: &[u8]) -> Result<Self, crate::DecodeError> {
                match crate::peek_service_name(bytes)? {
                    Some(name) => Self::decode_as(&name, bytes),
                    None => Err(crate::DecodeError::MissingServiceName),
                }
            }

            /// Decodes and validates a message whose key is already known
            /// (from an envelope's `service_name`, or a URL path).
            pub fn decode_as(key: &str, bytes: &[u8]) -> Result<Self, crate::DecodeError> {
                Self::decode_as_with_slips(key, bytes).map(|decoded| decoded.message)
            }

            /// [`decode_as`](Self::decode_as), keeping what was read leniently.
            pub fn decode_as_with_slips(key: &str, bytes: &[u8]) -> Result<crate::Decoded<Self>, crate::DecodeError> {
                match key {
                    #( #keys => crate::decode_with_slips::<#types>(bytes).map(|d| d.map(Self::#variants)), )*
                    _ => Err(crate::DecodeError::UnknownService {
                        service_name: key.to_string(),
                        role: crate::Role::#name,
                    }),
                }
            }

            /// The key of this message.
            pub fn key(&self) -> &'static str {
                match *self {
                    #( Self::#variants(_) => #keys, )*
                }
            }

            /// Encodes the message in the spec's wire types.
            pub fn encode(&self) -> Vec<u8> {
                match *self {
                    #( Self::#variants(ref m) => crate::message::encode(m), )*
                }
            }

            /// Checks every length and rule.
            pub fn validate(&self) -> Result<(), crate::Report> {
                match *self {
                    #( Self::#variants(ref m) => crate::Object::validate(m), )*
                }
            }

            /// The message's schema.
            pub fn schema(&self) -> &'static crate::schema::ObjectSchema {
                match *self {
                    #( Self::#variants(_) => <#types as crate::Object>::schema(), )*
                }
            }
        }

        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match *self {
                    #( Self::#variants(ref m) => ::serde::Serialize::serialize(m, s), )*
                }
            }
        }

        #(
            impl From<#types> for #name {
                fn from(m: #types) -> Self {
                    Self::#variants(m)
                }
            }
        )*
    }
}

/// The family-level enum over the roles the family has messages for.
fn family_message(roles: &[RoleName]) -> TokenStream {
    let variants: Vec<Ident> = roles.iter().map(|r| role_struct(*r)).collect();
    let docs = variants.iter().map(|v| format!("A `{v}` message."));
    // Roles without messages in this family have no variant; with every
    // role present a catch-all arm would be unreachable.
    let other_roles = (roles.len() < RoleName::ALL.len()).then(|| {
        quote! {
            _ => Err(crate::DecodeError::UnknownService { service_name: key.to_string(), role }),
        }
    });
    quote! {
        /// A message of any role of this family.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum Message {
            #( #[doc = #docs] #variants(#variants), )*
        }

        impl Message {
            /// The roles this family has messages for.
            pub const ROLES: &'static [crate::Role] = &[#( crate::Role::#variants ),*];

            /// Decodes a message of the given role, dispatching on its `service_name`.
            pub fn decode(role: crate::Role, bytes: &[u8]) -> Result<Self, crate::DecodeError> {
                match crate::peek_service_name(bytes)? {
                    Some(name) => Self::decode_as(role, &name, bytes),
                    None => Err(crate::DecodeError::MissingServiceName),
                }
            }

            /// Decodes a message of the given role and key.
            pub fn decode_as(role: crate::Role, key: &str, bytes: &[u8]) -> Result<Self, crate::DecodeError> {
                Self::decode_as_with_slips(role, key, bytes).map(|decoded| decoded.message)
            }

            /// [`decode_as`](Self::decode_as), keeping what was read leniently.
            pub fn decode_as_with_slips(role: crate::Role, key: &str, bytes: &[u8]) -> Result<crate::Decoded<Self>, crate::DecodeError> {
                match role {
                    #( crate::Role::#variants => #variants::decode_as_with_slips(key, bytes).map(|d| d.map(Self::#variants)), )*
                    #other_roles
                }
            }

            /// Encodes the message in the spec's wire types.
            pub fn encode(&self) -> Vec<u8> {
                match *self {
                    #( Self::#variants(ref m) => m.encode(), )*
                }
            }

            /// The message's schema.
            pub fn schema(&self) -> &'static crate::schema::ObjectSchema {
                match *self {
                    #( Self::#variants(ref m) => m.schema(), )*
                }
            }
        }
    }
}
