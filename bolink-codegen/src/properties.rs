//! `tests/tests/it/generated_properties.rs`: round-trip and mutation
//! properties for every generated message type and shared object.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::names::{role_struct, Model};

pub fn file(model: &Model) -> TokenStream {
    let mut items = Vec::new();
    for family in &model.families {
        let fmod = Ident::new(family.module, Span::call_site());
        for iface in &family.interfaces {
            let module = &iface.module;
            for role in iface.spec.roles.keys() {
                let ty = role_struct(*role);
                let name = Ident::new(
                    &format!("{}_{}_{}", family.module, iface.module_file, role.as_str()),
                    Span::call_site(),
                );
                items.push(quote! {
                    bolink_conformance::message_properties!(#name, bolink_types::#fmod::#module::#ty);
                });
            }
        }
        for shared in &family.shared {
            let ty = &shared.ident;
            let name = Ident::new(
                &format!("{}_shared_{}", family.module, ty.to_string().to_lowercase()),
                Span::call_site(),
            );
            items.push(quote! {
                bolink_conformance::message_properties!(#name, bolink_types::#fmod::#ty);
            });
        }
    }
    quote! {
        //! Round-trip and single-mutation properties for every generated message type and shared object.
        #(#items)*
    }
}
