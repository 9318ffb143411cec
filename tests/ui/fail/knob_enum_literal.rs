use finch::{Knob, KnobValue, knob};

#[derive(Clone, Copy, Debug, KnobValue)]
enum Codec {
    None,
    Lz4,
}

#[knob(default = 1)]
static CODEC: Knob<Codec>;

fn main() {}
