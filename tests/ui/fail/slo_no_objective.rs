use finch::slo;

#[slo]
fn handler() {}

fn main() {
    handler();
}
