use finch::KnobValue;

#[derive(Clone, Copy, Debug, KnobValue)]
enum Never {}

fn main() {}
