use finch::slo;

#[slo(errors < 1)]
fn handler() -> Result<(), ()> {
    Ok(())
}

fn main() {
    let _ = handler();
}
