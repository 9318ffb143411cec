use finch::knob;

#[knob(default = 8, min = 1, max = 64)]
struct Pool {
    size: u32,
}

fn main() {}
