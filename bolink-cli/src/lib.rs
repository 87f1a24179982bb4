//! The pure core of the `bolink` command line, for tools and fuzzers that
//! want its behaviour without a process: [`validate_bytes`].

mod validation;

pub use validation::{validate_bytes, Family};
