use finch::slo;

#[slo(p99 < 50kb)]
fn handler() {}

fn main() {
    handler();
}
