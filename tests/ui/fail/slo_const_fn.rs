use finch::slo;

#[slo(p99 < 50ms)]
const fn answer() -> u32 {
    42
}

fn main() {}
