use std::time::Duration;

use finch::{Knob, knob};

#[knob(default = 5min, min = 1s, max = 1h)]
static INTERVAL: Knob<Duration>;

fn main() {}
