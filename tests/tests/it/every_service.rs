//! `bolink_types::validate` (behind `bolink validate`) accepts a valid
//! message of every role of every specified interface, and re-encodes it.

use bolink_types::strategy::valid_json_for;
use bolink_types::validate::{validate, Validation};
use bolink_types::INTERFACES;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

#[test]
fn validate_accepts_every_role_of_every_service() {
    let mut runner = TestRunner::deterministic();
    let mut checked = 0;
    for info in INTERFACES {
        let family = info.document.family();
        let key = info
            .service_name
            .or(info.url_path)
            .expect("every interface has a key");
        for role in info.roles {
            let value = valid_json_for((role.schema)())
                .new_tree(&mut runner)
                .expect("a value")
                .current();
            let bytes = serde_json::to_vec(&value).expect("JSON");
            match validate(role.role, Some(family), Some(key), &bytes) {
                Validation::Valid {
                    family: found,
                    encoded,
                    slips,
                } => {
                    assert_eq!(found, family, "{key} {}", role.role);
                    // Values in the table's own forms are read without a slip.
                    assert!(slips.is_empty(), "{key} {}: {slips:?}", role.role);
                    // The re-encoding is itself a valid message of the same table.
                    assert!(
                        validate(role.role, Some(family), Some(key), &encoded).is_valid(),
                        "{key} {}: {}",
                        role.role,
                        String::from_utf8_lossy(&encoded)
                    );
                }
                other => panic!(
                    "{key} {}: {other:?}\n{}",
                    role.role,
                    String::from_utf8_lossy(&bytes)
                ),
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "every role of every interface ({checked})");
}
