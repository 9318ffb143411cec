use finch::slo;

#[slo(p99 < 50)]
fn handler() {}

fn main() {
    handler();
}
