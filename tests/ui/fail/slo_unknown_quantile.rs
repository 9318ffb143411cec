use finch::slo;

#[slo(p98 < 50ms)]
fn handler() {}

fn main() {
    handler();
}
