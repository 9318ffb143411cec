use finch::KnobValue;

#[derive(Clone, Copy, KnobValue)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
