use finch::{Knob, knob};

#[knob(default = 8, min = 0, max = 64, log)]
static POOL: Knob<u32>;

fn main() {}
