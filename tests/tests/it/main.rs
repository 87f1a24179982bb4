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
mod refusals;
mod schema_matches_spec;
mod signed_pipeline;
