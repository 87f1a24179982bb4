//! Misuse of the derives is a compile error that points at the attribute;
//! correct hand-written messages compile.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
