use finch::slo;

#[slo(p99 < 0ms)]
fn handler() {}

fn main() {
    handler();
}
