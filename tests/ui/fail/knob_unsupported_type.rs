use finch::knob;

#[knob(default = "fast")]
static MODE: finch::Knob<&'static str>;

fn main() {}
