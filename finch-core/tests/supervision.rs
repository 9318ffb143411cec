//! Supervision: a panic in an iteration (a signal source, the synchronous part
//! of an applier) is caught and reported, the change being verified is
//! rolled back when it was a cost cut, and the loop goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use finch_core::execute::DecisionOutcome;
use finch_core::monitor::{Signal, SignalError, SignalSource};
use finch_core::{
    BoxFuture, Config, Error, Handle, Knob, KnobBuilder, Outcome, SloBuilder, SloRef,
};

/// A signal source that panics while armed.
#[derive(Clone, Default)]
struct Faulty(Arc<AtomicBool>);

impl Faulty {
    fn arm(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }
}

impl SignalSource for Faulty {
    fn name(&self) -> &str {
        "faulty"
    }

    fn sample(&self) -> BoxFuture<'_, Result<Vec<Signal>, SignalError>> {
        assert!(!self.0.load(Ordering::SeqCst), "injected sampling panic");
        Box::pin(async { Ok(vec![Signal::internal("depth", 1.0)]) })
    }
}

/// A cache whose size does not matter to latency: the loop cuts it.
struct Cache {
    size: Arc<Knob<u32>>,
    api: SloRef,
    source: Faulty,
}

fn cache(prefix: &str) -> Cache {
    let size = KnobBuilder::new(format!("{prefix}.size"), 16u32)
        .bounds(2, 16)
        .cost(2.0);
    let api = SloBuilder::new(format!("{prefix}.api")).p99(Duration::from_millis(80));
    Cache {
        size: size.register().expect("the knob registers"),
        api: api.register().expect("the SLO registers"),
        source: Faulty::default(),
    }
}

impl Cache {
    fn start(&self, config: Config) -> Handle {
        let config = config
            .signal(self.source.clone())
            .process_signals(false)
            .seed(3);
        let names = (self.size.name(), self.api.name());
        finch_core::start(config.knobs([names.0]).slos([names.1])).expect("the loop starts")
    }

    fn serve(&self, window: u64) {
        for k in 0..150u64 {
            let micros = 10_000 + (k * 131 + window * 977) % 3_000;
            self.api.record(Duration::from_micros(micros), Outcome::Ok);
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_signal_source_is_reported_and_the_loop_goes_on() {
    let svc = cache("supervision.source");
    let finch = svc.start(Config::default().manual());
    svc.serve(0);
    finch.tick().await.expect("a healthy iteration");

    svc.source.arm(true);
    svc.serve(1);
    match finch.tick().await {
        Err(Error::IterationPanicked { message }) => {
            assert!(message.contains("injected sampling panic"), "{message}");
        }
        other => panic!("the panic is reported, got {other:?}"),
    }
    let status = finch.status();
    assert!(status.running, "the loop goes on");
    assert_eq!(status.faults, 1);
    let fault = status.last_fault.unwrap_or_default();
    assert!(fault.contains("injected sampling panic"), "{fault}");

    svc.source.arm(false);
    for w in 2..6 {
        svc.serve(w);
        finch.tick().await.expect("iterations resume");
    }
    let status = finch.status();
    assert_eq!(status.faults, 1, "the count stays");
    assert!(status.iterations >= 5, "{}", status.iterations);
    finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_pending_cost_cut_is_rolled_back_when_an_iteration_panics() {
    let svc = cache("supervision.cut");
    let finch = svc.start(Config::default().manual());
    let mut cut = None;
    for w in 0..200 {
        svc.serve(w);
        let tick = finch.tick().await.expect("a healthy iteration");
        if let Some(d) = tick.decision.filter(|d| {
            d.cost_after < d.cost_before && matches!(d.outcome, DecisionOutcome::Pending)
        }) {
            cut = Some((w, d));
            break;
        }
    }
    let (w, d) = cut.expect("the loop cuts the idle cache");
    let before: u32 = d.changes[0].from.parse().expect("a size");
    assert!(svc.size.get() < before);

    svc.source.arm(true);
    svc.serve(w + 1);
    assert!(matches!(
        finch.tick().await,
        Err(Error::IterationPanicked { .. })
    ));
    svc.source.arm(false);
    assert_eq!(svc.size.get(), before, "the unverified cut is undone");
    let status = finch.status();
    let judged = status
        .decisions
        .iter()
        .find(|x| x.id == d.id)
        .expect("the cut is in the status");
    assert!(
        matches!(&judged.outcome, DecisionOutcome::RolledBack { reason } if reason.contains("panicked")),
        "{judged:?}"
    );
    assert!(
        status
            .decisions
            .iter()
            .any(|x| x.reason.starts_with(&format!("undoing decision {}", d.id))),
        "the rollback is logged"
    );
    svc.serve(w + 2);
    finch.tick().await.expect("iterations resume");
    finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_applier_that_panics_before_its_future_fails_the_change_and_restores() {
    let svc = cache("supervision.applier");
    svc.size.set_applier(|size: u32| {
        assert!(size >= 8, "injected applier panic");
        async { Ok(()) }
    });
    let finch = svc.start(Config::default().manual());
    svc.serve(0);
    finch.tick().await.expect("a healthy iteration");
    let before = svc.size.get();
    let d = finch
        .pin(svc.size.name(), "4")
        .await
        .expect("the pin is answered");
    match &d.outcome {
        DecisionOutcome::ApplyFailed { reason } => {
            assert!(reason.contains("injected applier panic"), "{reason}");
        }
        other => panic!("the pin fails, got {other:?}"),
    }
    assert_eq!(svc.size.get(), before, "the previous value is restored");
    for w in 1..40 {
        svc.serve(w);
        finch.tick().await.expect("the loop goes on");
        assert!(
            svc.size.get() >= 8,
            "a value whose applier panicked never stays"
        );
    }
    finch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_loop_survives_a_panic() {
    let svc = cache("supervision.timer");
    svc.source.arm(true);
    let finch = svc.start(Config::default().interval(Duration::from_millis(20)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while finch.status().faults == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no iteration ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    svc.source.arm(false);
    let iterations = finch.status().iterations;
    while finch.status().iterations < iterations + 3 {
        assert!(tokio::time::Instant::now() < deadline, "the loop died");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = finch.status();
    assert!(status.running && status.stopped.is_none());
    assert!(status.faults >= 1);
    finch.shutdown().await;
}
