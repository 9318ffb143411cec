use finch::knob;

#[knob(default = 8, min = 1, max = 64)]
const POOL: finch::Knob<u32>;

fn main() {}
