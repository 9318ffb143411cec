use finch::{Knob, knob};

#[knob(min = 1, max = 64)]
static POOL: Knob<u32>;

fn main() {}
