use finch::{Knob, knob};

#[knob(default = 0.5, min = 0.0, max = 1.0, step = 0.0)]
static RATIO: Knob<f64>;

fn main() {}
