use finch::{Knob, knob};

#[knob(default = -20, min = -10, max = 10)]
static OFFSET: Knob<i32>;

fn main() {}
