use finch::{Knob, knob};

#[knob(default = true, step = true)]
static CACHE: Knob<bool>;

fn main() {}
