use finch::slo;

#[slo(p99 50ms)]
fn handler() {}

fn main() {
    handler();
}
