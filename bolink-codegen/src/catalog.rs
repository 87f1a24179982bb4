//! `generated/mod.rs` and `generated/catalog.rs`.

use bolink_spec::model::{Completeness, Direction, Document};
use proc_macro2::TokenStream;
use quote::quote;

use super::names::{role_struct, Model};

pub fn root_module(model: &Model) -> TokenStream {
    let families = model.families.iter().map(|f| {
        let module = proc_macro2::Ident::new(f.module, proc_macro2::Span::call_site());
        quote!(pub mod #module;)
    });
    quote! {
        //! Types generated from `protocol-spec/`.
        pub mod catalog;
        pub mod enums;
        #(#families)*
    }
}

pub fn file(model: &Model, spec: &bolink_spec::Spec) -> TokenStream {
    let entries = model.families.iter().flat_map(|family| {
        let fmod = proc_macro2::Ident::new(family.module, proc_macro2::Span::call_site());
        family.interfaces.iter().map(move |i| {
            let s = i.spec;
            let document = match s.document {
                Document::Sdk => quote!(Sdk),
                Document::SdkHttp => quote!(SdkHttp),
                Document::Newapi => quote!(Newapi),
            };
            let direction = match s.direction {
                Direction::Upstream => quote!(Upstream),
                Direction::Downstream => quote!(Downstream),
                Direction::Local => quote!(Local),
            };
            let status = match s.status {
                Completeness::Complete => quote!(Complete),
                Completeness::Partial => quote!(Partial),
                Completeness::FromCode => quote!(FromCode),
            };
            let opt = |v: &Option<String>| match v {
                Some(v) => quote!(Some(#v)),
                None => quote!(None),
            };
            let service = opt(&s.service_name);
            let path = opt(&s.url_path);
            let (section, title, title_en) = (&s.section, &s.title, &s.title_en);
            let module = &i.module;
            let roles = s.roles.keys().map(|r| {
                let ty = role_struct(*r);
                quote! {
                    crate::catalog::RoleInfo {
                        role: crate::Role::#ty,
                        schema: <crate::#fmod::#module::#ty as crate::Object>::schema,
                    }
                }
            });
            quote! {
                crate::catalog::InterfaceInfo {
                    document: crate::catalog::Document::#document,
                    section: #section,
                    title: #title,
                    title_en: #title_en,
                    service_name: #service,
                    url_path: #path,
                    direction: crate::catalog::Direction::#direction,
                    status: crate::catalog::SpecStatus::#status,
                    roles: &[#(#roles),*],
                }
            }
        })
    });
    let toc = spec.indexes.iter().flat_map(|file| {
        let index = &file.value;
        let document = match index.document {
            Document::Sdk => quote!(Sdk),
            Document::SdkHttp => quote!(SdkHttp),
            Document::Newapi => quote!(Newapi),
        };
        index.entries.iter().map(move |e| {
            use bolink_spec::model::EntryStatus as S;
            let status = match e.status {
                S::Specified => quote!(Specified),
                S::Partial => quote!(Partial),
                S::FromCode => quote!(FromCode),
                S::NotPublic => quote!(NotPublic),
                S::NotAnInterface => quote!(NotAnInterface),
                S::Protocol => quote!(Protocol),
            };
            let opt = |v: &Option<String>| match v {
                Some(v) => quote!(Some(#v)),
                None => quote!(None),
            };
            let key = opt(&e.service_name.clone().or_else(|| e.url_path.clone()));
            let (spec_path, reason) = (opt(&e.spec), opt(&e.reason));
            let (section, title) = (&e.section, &e.title);
            quote! {
                crate::catalog::TocEntry {
                    document: crate::catalog::Document::#document,
                    section: #section,
                    title: #title,
                    key: #key,
                    status: crate::catalog::TocStatus::#status,
                    spec: #spec_path,
                    reason: #reason,
                }
            }
        })
    });
    let shared = model.families.iter().flat_map(|family| {
        let fmod = proc_macro2::Ident::new(family.module, proc_macro2::Span::call_site());
        let fvariant = match family.family {
            bolink_spec::model::Family::Sdk => quote!(Sdk),
            bolink_spec::model::Family::Newapi => quote!(Newapi),
        };
        family.shared.iter().map(move |shared| {
            let ident = &shared.ident;
            let name = ident.to_string();
            let (label, source) = (&shared.object.label, &shared.object.source);
            quote! {
                crate::catalog::SharedInfo {
                    family: crate::catalog::Family::#fvariant,
                    name: #name,
                    label: #label,
                    source: #source,
                    schema: <crate::#fmod::#ident as crate::Object>::schema,
                    reencode: crate::catalog::reencode::<crate::#fmod::#ident>,
                }
            }
        })
    });
    quote! {
        //! Every specified interface, in document order, the message shapes
        //! shared by many interfaces, and the three tables of contents.

        /// Every specified interface of the three documents.
        pub static INTERFACES: &[crate::catalog::InterfaceInfo] = &[#(#entries),*];

        /// Every shared message shape, by family then name.
        pub static SHARED_OBJECTS: &[crate::catalog::SharedInfo] = &[#(#shared),*];

        /// Every entry of the three documents' tables of contents, with what the spec has for it.
        pub static TABLE_OF_CONTENTS: &[crate::catalog::TocEntry] = &[#(#toc),*];
    }
}
