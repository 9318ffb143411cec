use finch::slo;

#[slo(name = "checkout")]
fn handler() {}

fn main() {
    handler();
}
