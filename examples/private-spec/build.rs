//! Generates the types of `spec/` (this vendor's private interfaces, in
//! the format of bolink-rs' `protocol-spec/`) into `OUT_DIR`.

fn main() {
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("private_spec.rs");
    if let Err(error) = bolink_codegen::write_vendor_module("spec", &out) {
        // Every problem of the spec, with file and line, as the build error.
        panic!("spec/ cannot be generated:\n{error}");
    }
}
