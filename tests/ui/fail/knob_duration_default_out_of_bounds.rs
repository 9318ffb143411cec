use std::time::Duration;

use finch::{Knob, knob};

#[knob(default = 10s, min = 1ms, max = 5s)]
static TIMEOUT: Knob<Duration>;

fn main() {}
