use finch::{Knob, knob};

#[knob(default = 8, min = 1, max = 64, maximum = 128)]
static POOL: Knob<u32>;

fn main() {}
