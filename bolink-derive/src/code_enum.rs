//! `#[derive(CodeEnum)]`: an enum whose variants stand for protocol codes,
//! with an optional `Unknown(UnknownCode)` variant that keeps unknown codes.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Error, Fields, Ident, Result};

use crate::attr::{self, CodeLit};

struct Known {
    ident: Ident,
    code: CodeLit,
    label: String,
}

pub fn derive(input: DeriveInput) -> Result<TokenStream> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &input.generics,
            "#[derive(CodeEnum)] does not support generics",
        ));
    }
    let Data::Enum(data) = &input.data else {
        return Err(Error::new(name.span(), "#[derive(CodeEnum)] is for enums"));
    };
    let eattrs = attr::parse_enum_attrs(&input.attrs, name.span())?;
    let mut known = Vec::new();
    let mut unknown: Option<Ident> = None;
    for variant in &data.variants {
        match &variant.fields {
            Fields::Unit => {
                let vattrs = attr::parse_variant_attrs(&variant.attrs)?;
                let code = vattrs.code.ok_or_else(|| {
                    Error::new(variant.ident.span(), "every known variant needs #[bolink(code = ...)]")
                })?;
                match (&code, eattrs.integer) {
                    (CodeLit::Int(_), true) | (CodeLit::Str(_), false) => {}
                    _ => {
                        return Err(Error::new(
                            variant.ident.span(),
                            "this code's type does not match the enum's `codes`",
                        ))
                    }
                }
                known.push(Known {
                    ident: variant.ident.clone(),
                    code,
                    label: vattrs.label,
                });
            }
            Fields::Unnamed(f) if f.unnamed.len() == 1 && variant.ident == "Unknown" => {
                unknown = Some(variant.ident.clone());
            }
            _ => {
                return Err(Error::new(
                    variant.ident.span(),
                    "variants are unit variants with a code, plus `Unknown(UnknownCode)` for open enums",
                ))
            }
        }
    }
    match (&unknown, eattrs.closed) {
        (Some(u), true) => {
            return Err(Error::new(u.span(), "a closed enum has no Unknown variant"))
        }
        (None, false) => return Err(Error::new(
            name.span(),
            "an open enum needs an `Unknown(UnknownCode)` variant (or mark it #[bolink(closed)])",
        )),
        _ => {}
    }

    let code_tokens = |c: &CodeLit| match c {
        CodeLit::Int(i) => quote!(::bolink_types::CodeRef::Int(#i)),
        CodeLit::Str(s) => quote!(::bolink_types::CodeRef::Str(#s)),
    };
    let from_arms = known.iter().map(|k| {
        let ident = &k.ident;
        let code = code_tokens(&k.code);
        quote!(#code => ::core::option::Option::Some(Self::#ident),)
    });
    let fallback = match &unknown {
        Some(u) => {
            quote!(__other => ::core::option::Option::Some(Self::#u(::bolink_types::__private::unknown_code(__other))),)
        }
        None => quote!(_ => ::core::option::Option::None,),
    };
    let code_arms = known.iter().map(|k| {
        let ident = &k.ident;
        let code = code_tokens(&k.code);
        quote!(Self::#ident => #code,)
    });
    let unknown_code_arm = unknown
        .as_ref()
        .map(|u| quote!(Self::#u(__c) => __c.code(),));
    let label_arms = known.iter().map(|k| {
        let ident = &k.ident;
        let label = &k.label;
        quote!(Self::#ident => ::core::option::Option::Some(#label),)
    });
    let unknown_label_arm = unknown
        .as_ref()
        .map(|u| quote!(Self::#u(_) => ::core::option::Option::None,));
    let variant_schemas = known.iter().map(|k| {
        let code = code_tokens(&k.code);
        let rust = k.ident.to_string();
        let label = &k.label;
        quote!(::bolink_types::schema::VariantSchema { code: #code, rust_name: #rust, label: #label })
    });
    let kind = if eattrs.integer {
        quote!(::bolink_types::CodeKind::Integer)
    } else {
        quote!(::bolink_types::CodeKind::String)
    };
    let default_form = if eattrs.integer {
        quote!(::bolink_types::wire::Number)
    } else {
        quote!(::bolink_types::wire::Text)
    };
    let open = !eattrs.closed;
    let rust_name = name.to_string();

    Ok(quote! {
        const _: () = {
            use ::bolink_types::__private as __rt;

            impl ::bolink_types::CodeEnum for #name {
                const KIND: ::bolink_types::CodeKind = #kind;
                const OPEN: bool = #open;

                fn schema() -> &'static ::bolink_types::schema::EnumSchema {
                    static __SCHEMA: ::bolink_types::schema::EnumSchema = ::bolink_types::schema::EnumSchema {
                        rust_name: #rust_name,
                        kind: #kind,
                        open: #open,
                        variants: &[#(#variant_schemas),*],
                    };
                    &__SCHEMA
                }

                fn from_code(__code: ::bolink_types::CodeRef<'_>) -> ::core::option::Option<Self> {
                    match __code {
                        #(#from_arms)*
                        #fallback
                    }
                }

                fn code(&self) -> ::bolink_types::CodeRef<'_> {
                    match self {
                        #(#code_arms)*
                        #unknown_code_arm
                    }
                }

                fn label(&self) -> ::core::option::Option<&'static str> {
                    match self {
                        #(#label_arms)*
                        #unknown_label_arm
                    }
                }
            }

            impl ::bolink_types::CodeValue for #name {
                fn as_code(&self) -> ::core::option::Option<::bolink_types::CodeRef<'_>> {
                    ::core::option::Option::Some(::bolink_types::CodeEnum::code(self))
                }
            }

            impl ::bolink_types::wire::Wire<::bolink_types::wire::Number> for #name {
                const KIND: ::bolink_types::schema::Kind = ::bolink_types::schema::Kind::Enum {
                    schema: <#name as ::bolink_types::CodeEnum>::schema,
                    as_text: false,
                };
                fn write<__S: __rt::serde::Serializer>(&self, __s: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                    __rt::write_code_number(self, __s)
                }
                fn read<'de, __D: __rt::serde::Deserializer<'de>>(
                    __d: __D,
                    __ctx: &mut ::bolink_types::Ctx,
                ) -> ::core::result::Result<::bolink_types::wire::Read<Self>, __D::Error> {
                    __rt::read_code::<Self, __D>(__d, __ctx, false)
                }
                fn wire_len(&self) -> usize {
                    __rt::code_len(self)
                }
            }

            impl ::bolink_types::wire::Wire<::bolink_types::wire::Text> for #name {
                const KIND: ::bolink_types::schema::Kind = ::bolink_types::schema::Kind::Enum {
                    schema: <#name as ::bolink_types::CodeEnum>::schema,
                    as_text: true,
                };
                fn write<__S: __rt::serde::Serializer>(&self, __s: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                    __rt::write_code_text(self, __s)
                }
                fn read<'de, __D: __rt::serde::Deserializer<'de>>(
                    __d: __D,
                    __ctx: &mut ::bolink_types::Ctx,
                ) -> ::core::result::Result<::bolink_types::wire::Read<Self>, __D::Error> {
                    __rt::read_code::<Self, __D>(__d, __ctx, true)
                }
                fn wire_len(&self) -> usize {
                    __rt::code_len(self)
                }
            }

            // Kept out of "other types implement" lists, which would
            // otherwise name every generated type.
            #[diagnostic::do_not_recommend]
            impl ::bolink_types::wire::DefaultWire for #name {
                type Form = #default_form;
            }

            impl __rt::serde::Serialize for #name {
                fn serialize<__S: __rt::serde::Serializer>(&self, __s: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                    <Self as ::bolink_types::wire::Wire<#default_form>>::write(self, __s)
                }
            }

            impl<'de> __rt::serde::Deserialize<'de> for #name {
                fn deserialize<__D: __rt::serde::Deserializer<'de>>(__d: __D) -> ::core::result::Result<Self, __D::Error> {
                    __rt::deserialize_code::<Self, __D>(__d)
                }
            }

            impl ::core::fmt::Display for #name {
                fn fmt(&self, __f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    ::core::fmt::Display::fmt(&::bolink_types::CodeEnum::code(self), __f)
                }
            }
        };
    })
}
