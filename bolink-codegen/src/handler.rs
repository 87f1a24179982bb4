//! `bolink-sdk/src/generated/handler.rs`: the `Handler` trait (SDK family) and
//! the `CallbackHandler` trait (new API), one method per downstream service,
//! and the dispatch functions that call them.
//!
//! A method (async, `&self`) takes the page's `request` table and answers with its HTTP-mode
//! return when the page has one, else its SDK-mode return; its default body
//! refuses as "not supported", so a lot implements only what it offers.

use bolink_spec::model::{Completeness, Direction, Family, RoleName};
use proc_macro2::TokenStream;
use quote::quote;

use super::names::{role_struct, snake_ident, Model};

/// One family's trait: which roles it answers with and how it is named.
struct TraitPlan {
    family: Family,
    module: TokenStream,
    trait_name: TokenStream,
    services_const: TokenStream,
    dispatch: TokenStream,
    answer_roles: &'static [RoleName],
    what: &'static str,
}

pub fn file(model: &Model) -> TokenStream {
    let plans = [
        TraitPlan {
            family: Family::Sdk,
            module: quote!(sdk),
            trait_name: quote!(Handler),
            services_const: quote!(DOWNSTREAM_SERVICES),
            dispatch: quote!(dispatch),
            answer_roles: &[RoleName::HttpReturn, RoleName::SdkReturn],
            what: "What a charging system answers to Bolink's downstream requests (SDK protocol, HTTP mode)",
        },
        TraitPlan {
            family: Family::Newapi,
            module: quote!(newapi),
            trait_name: quote!(CallbackHandler),
            services_const: quote!(CALLBACK_SERVICES),
            dispatch: quote!(dispatch_callback),
            answer_roles: &[RoleName::Response],
            what: "What a vendor's callback server answers to Bolink's calls (new API)",
        },
    ];
    let traits = plans.iter().map(|plan| family_trait(model, plan));
    quote! {
        use std::future::Future;

        use bolink_types::{newapi, sdk, Message};

        use crate::answer::{Answer, Refusal};

        #(#traits)*

        fn answered<M: Message>(answer: Answer<M>) -> Result<Vec<u8>, Refusal> {
            answer.map(|message| message.encode())
        }

        /// `{"service_name":...,"state":1}`: the answer of a service whose page shows no answer table.
        #[allow(dead_code)]
        fn acknowledged(service_name: &str) -> Vec<u8> {
            serde_json::json!({ "service_name": service_name, "state": 1 }).to_string().into_bytes()
        }
    }
}

fn family_trait(model: &Model, plan: &TraitPlan) -> TokenStream {
    let TraitPlan {
        module: family_module,
        trait_name,
        services_const,
        dispatch,
        ..
    } = plan;
    let mut methods = Vec::new();
    let mut arms = Vec::new();
    let mut services = Vec::new();
    let interfaces = model
        .families
        .iter()
        .filter(|f| f.family == plan.family)
        .flat_map(|f| &f.interfaces);
    for iface in interfaces {
        if iface.spec.direction != Direction::Downstream
            || !iface.spec.roles.contains_key(&RoleName::Request)
        {
            continue;
        }
        let answer_role = plan
            .answer_roles
            .iter()
            .copied()
            .find(|r| iface.spec.roles.contains_key(r));
        let Some(service) = iface
            .spec
            .service_name
            .as_deref()
            .or(iface.spec.url_path.as_deref())
        else {
            continue;
        };
        let method = snake_ident(&iface.module_file);
        let module = &iface.module;
        let variant = &iface.variant;
        if let Some(answer_role) = answer_role {
            let answer = role_struct(answer_role);
            let doc = format!(
                "{} ({}): `{service}`, answered with its `{}` table.",
                iface.spec.title,
                iface.spec.title_en,
                answer_role.as_str()
            );
            methods.push(quote! {
                #[doc = #doc]
                fn #method(&self, request: #family_module::#module::Request) -> impl Future<Output = Answer<#family_module::#module::#answer>> + Send {
                    let _ = request;
                    std::future::ready(Err(Refusal::not_supported()))
                }
            });
            arms.push(quote! {
                #family_module::Request::#variant(request) => answered(handler.#method(request).await),
            });
        } else {
            // No answer table (the page shows none, or, for a spec from
            // code, no program reads or writes one): the answer is the
            // protocol's bare acknowledgement.
            let why = if iface.spec.status == Completeness::FromCode {
                "No answer table is known (no page was seen, and no public program reads an answer)"
            } else {
                "The page shows no answer table"
            };
            let doc = format!(
                "{} ({}): `{service}`. {why}: `Ok` is answered `{{\"service_name\",\"state\":1}}`.",
                iface.spec.title, iface.spec.title_en
            );
            methods.push(quote! {
                #[doc = #doc]
                fn #method(&self, request: #family_module::#module::Request) -> impl Future<Output = Answer<()>> + Send {
                    let _ = request;
                    std::future::ready(Err(Refusal::not_supported()))
                }
            });
            arms.push(quote! {
                #family_module::Request::#variant(request) => handler.#method(request).await.map(|()| acknowledged(#service)),
            });
        }
        services.push(service.to_string());
    }
    let list = if services.is_empty() {
        "none yet".to_string()
    } else {
        services.join(", ")
    };
    let trait_doc = format!(
        "{}: one method per service ({list}).\n\n\
         Every method has a default that refuses with \"not supported\" (state 0), so an implementation \
         overrides only the services it offers.\n\n\
         Methods are asynchronous and take `&self`: the transports call them concurrently (a slow \
         answer never holds up another, nor uploads or polls), so keep mutable state behind a lock \
         or in an `Arc` inside your type, as axum's `State` does. Write them as `async fn` in your \
         `impl`; the future must be `Send`, so do not hold a `std::sync::MutexGuard` across an \
         `.await` (use `tokio::sync::Mutex`, or drop the guard first). A method that blocks the thread \
         (synchronous database calls) should move that work to `tokio::task::spawn_blocking`.",
        plan.what
    );
    let const_doc = format!("The services [`{trait_name}`] has a method for.");
    let dispatch_doc = format!(
        "Calls the [`{trait_name}`] method for `request`; the answer's JSON, or its refusal."
    );
    // A message of a service outside bolink-types' spec reaches the
    // application too (nothing signed is dropped). A new-API callback is
    // found by its address as well, so only one whose data names a
    // service_name can be told apart as "another spec's".
    let other_doc = match plan.family {
        Family::Sdk => {
            "A signed downstream message of a service bolink-types does not specify (one of a \
             spec of your own, generated by bolink-codegen): read it with \
             [`OtherService::decode`](crate::OtherService::decode) and answer with \
             [`OtherAnswer::new`](crate::OtherAnswer::new), which checks the answer against its \
             table. The default refuses with \"not supported\"."
        }
        Family::Newapi => {
            "A signed callback whose data names a service_name bolink-types does not specify \
             (one of a spec of your own, generated by bolink-codegen): read it with \
             [`OtherService::decode`](crate::OtherService::decode) and answer with \
             [`OtherAnswer::new`](crate::OtherAnswer::new), which checks the answer against its \
             table. Replays of its `rand` and the platform's retries are handled as for every \
             callback. The default refuses with \"not supported\" (`state` 0)."
        }
    };
    let other_service = quote! {
        #[doc = #other_doc]
        fn other_service(&self, message: crate::OtherService) -> impl Future<Output = Answer<crate::OtherAnswer>> + Send {
            let _ = message;
            std::future::ready(Err(Refusal::not_supported()))
        }
    };
    quote! {
        #[doc = #trait_doc]
        pub trait #trait_name: Send + Sync {
            #(#methods)*

            /// A signed message that breaks its table (a payment result whose remark is over its
            /// length, say): called with the data as received, the fields that could be read and
            /// every violation, before the platform is answered with a refusal naming the first
            /// one. Nothing signed is dropped: keep what you need to reconcile. The default does
            /// nothing.
            fn invalid_message(&self, message: crate::InvalidMessage) -> impl Future<Output = ()> + Send {
                let _ = message;
                std::future::ready(())
            }

            #other_service
        }

        #[doc = #const_doc]
        pub const #services_const: &[&str] = &[#(#services),*];

        #[doc = #dispatch_doc]
        // A family without such services yet leaves only the fallback arm.
        #[allow(unused_variables, dead_code, clippy::match_single_binding)]
        pub(crate) async fn #dispatch<H: #trait_name + ?Sized>(handler: &H, request: #family_module::Request) -> Result<Vec<u8>, Refusal> {
            match request {
                #(#arms)*
                #[allow(unreachable_patterns)]
                _ => Err(Refusal::not_supported()),
            }
        }
    }
}
