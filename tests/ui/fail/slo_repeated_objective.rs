use finch::slo;

#[slo(p99 < 50ms, p95 < 20ms, p99 < 80ms)]
fn handler() {}

fn main() {
    handler();
}
