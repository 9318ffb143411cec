use std::time::Duration;

use finch::{Knob, knob};

#[knob(default = 200, min = 10ms, max = 5s)]
static TIMEOUT: Knob<Duration>;

fn main() {}
