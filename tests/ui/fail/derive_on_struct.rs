use finch::KnobValue;

#[derive(Clone, Copy, Debug, KnobValue)]
struct Level(u8);

fn main() {}
