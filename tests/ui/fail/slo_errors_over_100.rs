use finch::slo;

#[slo(errors < 150%)]
fn handler() -> Result<(), ()> {
    Ok(())
}

fn main() {
    let _ = handler();
}
