use std::time::Duration;

use finch::{Knob, knob};

#[knob(default = 200ms, min = 10ms)]
static TIMEOUT: Knob<Duration>;

fn main() {}
