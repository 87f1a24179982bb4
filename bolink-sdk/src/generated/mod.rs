//! Code generated from `protocol-spec/` by `cargo xtask codegen`.

#[rustfmt::skip]
pub mod handler;
