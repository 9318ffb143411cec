use finch::slo;

#[slo(p99 < 50ms, errors < 0%)]
fn handler() -> Result<(), ()> {
    Ok(())
}

fn main() {
    let _ = handler();
}
