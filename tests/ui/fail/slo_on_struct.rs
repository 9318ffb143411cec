use finch::slo;

#[slo(p99 < 50ms)]
struct Handler;

fn main() {}
