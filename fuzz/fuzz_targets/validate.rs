//! `bolink_types::validate` (the `bolink validate` path) on any input: an
//! outcome, never a panic; and what it calls valid re-encodes to bytes it
//! calls valid again.
#![no_main]

use bolink_types::validate::{validate, Validation};
use bolink_types::Role;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Validation::Valid { family, encoded } = validate(Role::Request, None, None, data) {
        match validate(Role::Request, Some(family), None, &encoded) {
            Validation::Valid { encoded: again, .. } => assert_eq!(again, encoded),
            other => panic!("a re-encoded valid message is {other:?}"),
        }
    }
});
