use finch::slo;

#[slo(p99 <, errors < 1%)]
fn handler() {}

fn main() {
    handler();
}
