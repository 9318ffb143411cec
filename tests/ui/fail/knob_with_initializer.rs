use finch::{Knob, knob};

#[knob(default = 8, min = 1, max = 64)]
static POOL: Knob<u32> = 8;

fn main() {}
