use finch::knob;

#[knob(default = 8, min = 1, max = 64)]
fn pool() -> u32 {
    8
}

fn main() {}
