//! The workload traces of the family: each a scenario of one-second windows.

use std::time::Duration;

use finch::lab::{Fault, Phase, Scenario};

const WINDOW: Duration = Duration::from_secs(1);

/// `windows` scaled down for the short (CI) mode.
fn n(windows: u32, short: bool) -> u32 {
    if short { windows / 2 } else { windows }
}

/// The `shop` traces: ramp, spike, diurnal, mix shift, interference, quiet.
pub(crate) fn shop(short: bool) -> Vec<Scenario> {
    let s = |w| n(w, short);
    let reads = |share: f64| [("read", share), ("write", 1.0 - share)];
    let day = [80.0, 400.0, 1150.0, 1350.0, 1000.0, 300.0, 80.0];
    let mut diurnal = Scenario::new("diurnal", WINDOW)
        .describe("80 → 1350 → 80 req/s over one day in six ramps, 80 % reads");
    for (i, pair) in day.windows(2).enumerate() {
        diurnal = diurnal.phase(
            Phase::new(format!("h{}", i * 4), s(50), pair[0])
                .ramp_to(pair[1])
                .mix(reads(0.8)),
        );
    }
    vec![
        Scenario::new("ramp", WINDOW)
            .describe("100 → 1300 req/s over 150 s, held 50 s, then 100 req/s")
            .phase(
                Phase::new("ramp", s(75), 100.0)
                    .ramp_to(700.0)
                    .mix(reads(0.8)),
            )
            .phase(
                Phase::new("ramp on", s(40), 700.0)
                    .ramp_to(1000.0)
                    .mix(reads(0.8)),
            )
            .phase(
                Phase::new("ramp top", s(35), 1000.0)
                    .ramp_to(1300.0)
                    .mix(reads(0.8)),
            )
            .phase(Phase::new("peak", s(50), 1300.0).mix(reads(0.8)))
            .phase(Phase::new("calm", s(100), 100.0).mix(reads(0.8))),
        Scenario::new("spike", WINDOW)
            .describe("150 req/s, a 1300 req/s spike for 50 s, back to 150")
            .phase(Phase::new("before", s(120), 150.0).mix(reads(0.8)))
            .phase(Phase::new("spike", s(50), 1300.0).mix(reads(0.8)))
            .phase(Phase::new("after", s(130), 150.0).mix(reads(0.8))),
        diurnal,
        Scenario::new("mix-shift", WINDOW)
            .describe("900 req/s; reads 95 % → 50 %")
            .phase(Phase::new("reads", s(150), 900.0).mix(reads(0.95)))
            .phase(Phase::new("writes", s(150), 900.0).mix(reads(0.5))),
        Scenario::new("interference", WINDOW)
            .describe("450 req/s; unannounced, the database runs 2.2x slower for 60 s")
            .phase(Phase::new("steady", s(300), 450.0).mix(reads(0.8)))
            .fault(Fault::new("db-slow", 2.2).during(s(120), s(180))),
        Scenario::new("quiet", WINDOW)
            .describe("5 req/s for 2 minutes, 1200 req/s for 60 s, 8 req/s")
            .phase(Phase::new("quiet", s(120), 5.0).mix(reads(0.8)))
            .phase(Phase::new("busy", s(60), 1200.0).mix(reads(0.8)))
            .phase(Phase::new("quiet again", s(120), 8.0).mix(reads(0.8))),
    ]
}

/// The `feed` traces: a spike with a page-heavy mix, and a CPU neighbour.
pub(crate) fn feed(short: bool) -> Vec<Scenario> {
    let s = |w| n(w, short);
    let pages = |share: f64| [("page", share), ("thumb", 1.0 - share)];
    vec![
        Scenario::new("feed-spike", WINDOW)
            .describe("120 req/s, 600 req/s with more pages for 60 s, back to 120")
            .phase(Phase::new("before", s(120), 120.0).mix(pages(0.5)))
            .phase(Phase::new("spike", s(60), 600.0).mix(pages(0.7)))
            .phase(Phase::new("after", s(120), 120.0).mix(pages(0.5))),
        Scenario::new("feed-neighbour", WINDOW)
            .describe("350 req/s; a CPU-hungry neighbour slows rendering 1.8x for 60 s")
            .phase(Phase::new("steady", s(300), 350.0).mix(pages(0.6)))
            .fault(Fault::new("cpu-neighbour", 1.8).during(s(120), s(180))),
    ]
}
