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
            let variant = &i.variant;
            let module = &i.module;
            let ty = role_struct(role);
            let doc = format!("{} ({})", i.spec.title, i.spec.title_en);
            let mut keys = Vec::new();
            if let Some(service) = &i.spec.service_name {
                keys.push(service.clone());
            }
            if let Some(path) = &i.spec.url_path {
                if path_uses.get(path.as_str()) == Some(&1) {
                    keys.push(path.clone());
                }
            }
            // One arm per key: the macro takes one literal, so an interface
            // with both a service name and a unique path gets the service name.
            if let Some(key) = keys.first() {
                let key = Literal::string(key);
                arms.push(quote! { #[doc = #doc] #variant(#module::#ty) = #key });
            }
        }
        if arms.is_empty() {
            continue;
        }
        let name = role_struct(role);
        roles_present.push(name.clone());
        let doc = format!("Every `{}` message of this family.", role.as_str());
        let role_variant = role_struct(role);
        role_enums.push(quote! {
            crate::catalog::role_enum! {
                #[doc = #doc]
                #name, crate::Role::#role_variant,
                [ #(#arms),* ]
            }
        });
    }
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
        crate::catalog::family_message!(#(#roles_present),*);
    }
}
