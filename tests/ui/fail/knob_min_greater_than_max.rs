use finch::{Knob, knob};

#[knob(default = 8, min = 64, max = 1)]
static POOL: Knob<u32>;

fn main() {}
