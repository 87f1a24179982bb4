//! `generated/enums.rs`: every enum of `protocol-spec/definitions/`.

use bolink_spec::model::{Code, CodeKind};
use heck::ToPascalCase;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use super::names::{prose, provenance_doc, Model};

pub fn file(model: &Model) -> TokenStream {
    let enums = model.enums.iter().map(|e| {
        let def = e.def;
        let name = Ident::new(&e.rust, Span::call_site());
        let codes = match def.codes {
            CodeKind::Integer => "integer",
            CodeKind::String => "string",
        };
        let mut doc = format!("{}.\n\nSource: {}.", prose(&def.label), prose(&def.source));
        if !def.complete {
            doc.push_str("\n\nThe document's own table of codes was not seen: the known codes are those observed on other pages; any other code decodes as `Unknown`.");
        }
        for note in &def.notes {
            doc.push_str("\n\n");
            doc.push_str(&prose(note));
        }
        let variants = def.variants.iter().map(|v| {
            let ident = Ident::new(&v.name.to_pascal_case(), Span::call_site());
            let code = match &v.code {
                Code::Int(i) => Literal::i64_unsuffixed(*i),
                Code::Str(s) => Literal::string(s),
            };
            let label = &v.label;
            let mut vdoc = format!("{} (code {}).", prose(&v.label), v.code);
            if let Some(text) = v.source.as_ref().and_then(provenance_doc) {
                vdoc.push_str(&format!("\n\n{text}"));
            }
            quote! {
                #[doc = #vdoc]
                #[bolink(code = #code, label = #label)]
                #ident,
            }
        });
        let (closed_attr, unknown) = if def.open {
            (
                quote!(),
                quote! {
                    /// A code this version does not know, kept as received and written back unchanged.
                    Unknown(::bolink_types::UnknownCode),
                },
            )
        } else {
            (quote!(#[bolink(closed)]), quote!())
        };
        let non_exhaustive = if def.open { quote!(#[non_exhaustive]) } else { quote!() };
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq, Eq, Hash, ::bolink_types::CodeEnum)]
            #[bolink(codes = #codes)]
            #closed_attr
            #non_exhaustive
            pub enum #name {
                #(#variants)*
                #unknown
            }
        }
    });
    let doc = format!(
        "The protocol's enums of codes, from `{}/definitions/`.\n\n\
         Open enums decode an unknown code to `Unknown` and write it back unchanged.",
        model.spec_dir
    );
    quote! {
        #![doc = #doc]
        #(#enums)*
    }
}
