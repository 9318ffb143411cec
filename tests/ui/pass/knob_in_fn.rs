//! A knob declared inside a function body, and knobs in a `#![forbid(unsafe_code)]` crate.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

use finch::{Knob, knob};

fn main() {
    #[knob(default = 4, min = 1, max = 16, name = "pass.local")]
    static LOCAL: Knob<u32>;

    assert_eq!(LOCAL.get(), 4);
    assert_eq!(LOCAL.name(), "pass.local");
    assert!(finch::knob_by_name("pass.local").is_some());
}
