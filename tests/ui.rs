//! Compile-time behaviour of `#[knob]`, `#[slo]` and `#[derive(KnobValue)]`:
//! what compiles (and runs), and the errors misuse gets.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
