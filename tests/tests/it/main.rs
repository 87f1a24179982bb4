//! Cross-crate conformance tests (one binary, as STYLE.md suggests).

mod decoding;
mod examples;
mod generated_properties;
mod signed_pipeline;
