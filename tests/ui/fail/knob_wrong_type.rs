use finch::knob;

#[knob(default = 8, min = 1, max = 64)]
static POOL: u32;

fn main() {}
