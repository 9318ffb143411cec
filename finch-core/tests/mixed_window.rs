//! A window during which a knob changed outside the loop (a `Knob::set`, an
//! operator's pin) ran under two configurations: it is not clean, so it is
//! neither trained on, nor verified on, nor learnt by the policy, and its
//! observation records the configuration in force at its end.

use std::time::Duration;

use finch_core::{Config, Handle, Knob, KnobBuilder, Outcome, SloBuilder, SloRef, Tick};

struct Service {
    threads: std::sync::Arc<Knob<u32>>,
    slo: SloRef,
    finch: Handle,
}

impl Service {
    fn start(prefix: &str) -> Service {
        let threads = KnobBuilder::new(format!("{prefix}.threads"), 8u32)
            .bounds(1, 16)
            .cost(1.0)
            .register()
            .expect("the knob registers");
        let slo = SloBuilder::new(format!("{prefix}.api"))
            .p99(Duration::from_millis(50))
            .register()
            .expect("the SLO registers");
        let finch = finch_core::start(
            Config::default()
                .manual()
                .knobs([threads.name()])
                // The loop itself leaves the knob alone: only the test moves it.
                .freeze(threads.name())
                .slos([slo.name()])
                .process_signals(false),
        )
        .expect("the loop starts");
        Service {
            threads,
            slo,
            finch,
        }
    }

    /// Half a window of calls: 100 of them, fast.
    fn serve(&self) {
        for k in 0..100u64 {
            self.slo
                .record(Duration::from_micros(5_000 + k * 13), Outcome::Ok);
        }
    }

    async fn tick(&self) -> Tick {
        self.finch.tick().await.expect("the iteration runs")
    }

    /// Clean windows in the loop's history (what training and the policy use).
    fn clean(&self) -> usize {
        self.finch.status().model.available
    }

    fn threads_at_end(&self, tick: &Tick) -> f64 {
        tick.observation.knobs[self.threads.name()]
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_set_mid_window_makes_the_window_unclean_even_when_set_back() {
    let svc = Service::start("mixed.set");
    for _ in 0..3 {
        svc.serve();
        svc.serve();
        assert!(svc.tick().await.observation.clean, "nothing moved");
    }
    let before = svc.clean();

    svc.serve();
    svc.threads.set(4).unwrap();
    svc.serve();
    let tick = svc.tick().await;
    assert!(!tick.observation.clean, "8 then 4 in one window");
    assert_eq!(
        svc.threads_at_end(&tick),
        4.0,
        "the value in force at the end"
    );
    assert_eq!(svc.clean(), before, "not trained on");

    svc.serve();
    svc.threads.set(5).unwrap();
    svc.serve();
    svc.threads.set(4).unwrap();
    let tick = svc.tick().await;
    assert!(!tick.observation.clean, "4, 5, then 4 again in one window");
    assert_eq!(svc.clean(), before);

    svc.serve();
    svc.serve();
    let tick = svc.tick().await;
    assert!(tick.observation.clean, "the next window runs on 4 alone");
    assert_eq!(svc.threads_at_end(&tick), 4.0);
    assert_eq!(svc.clean(), before + 1);
    svc.finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_pin_mid_window_makes_the_window_unclean() {
    let svc = Service::start("mixed.pin");
    for _ in 0..3 {
        svc.serve();
        svc.serve();
        assert!(svc.tick().await.observation.clean);
    }
    let before = svc.clean();

    svc.serve();
    svc.finch
        .pin(svc.threads.name(), "12")
        .await
        .expect("the pin applies");
    svc.serve();
    let tick = svc.tick().await;
    assert!(!tick.observation.clean, "8 then 12 in one window");
    assert_eq!(svc.threads_at_end(&tick), 12.0);
    assert_eq!(svc.clean(), before, "not trained on");

    svc.serve();
    svc.serve();
    let tick = svc.tick().await;
    assert!(
        tick.observation.clean,
        "the next window runs on the pin alone"
    );
    assert_eq!(svc.threads_at_end(&tick), 12.0);
    assert_eq!(svc.clean(), before + 1);
    svc.finch.shutdown().await;
}
