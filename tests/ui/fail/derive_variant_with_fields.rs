use finch::KnobValue;

#[derive(Clone, Copy, Debug, KnobValue)]
enum Codec {
    None,
    Zstd { level: u8 },
}

fn main() {}
