//! Cross-crate conformance tests (one binary, as STYLE.md suggests).

mod accepted_forms;
mod bad_input;
mod corpus;
mod decoding;
mod every_service;
mod examples;
// Generated and printed by prettyplease (`cargo xtask codegen`), like bolink-types/src/generated.
#[rustfmt::skip]
mod generated_properties;
mod message_keys;
mod refusals;
mod schema_matches_spec;
mod signed_pipeline;
mod traps;

use bolink_spec::model::RoleName;
use bolink_types::Role;

/// The role a spec file's table name stands for.
fn role_of(name: RoleName) -> Role {
    match name {
        RoleName::Request => Role::Request,
        RoleName::HttpRequest => Role::HttpRequest,
        RoleName::SdkReturn => Role::SdkReturn,
        RoleName::HttpReturn => Role::HttpReturn,
        RoleName::AsyncResult => Role::AsyncResult,
        RoleName::Response => Role::Response,
    }
}
