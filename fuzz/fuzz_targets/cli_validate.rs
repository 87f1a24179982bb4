//! The `bolink validate` path on any input: an exit code and output, never a panic.
#![no_main]

use bolink_types::Role;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (code, _output) = bolink_cli::validate_bytes(Role::Request, None, None, data);
    assert!(code <= 2);
});
