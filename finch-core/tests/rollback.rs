//! Rollback: a change whose applier fails, times out or blocks its thread is
//! undone at once (and the loop goes on meanwhile), and a cost cut that breaks an objective is undone after verification and not
//! tried again at that load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finch_core::execute::DecisionOutcome;
use finch_core::{ApplyError, Config, Handle, Knob, KnobBuilder, Outcome, SloBuilder, SloRef};

/// A service whose p99 holds (about 20 ms) only with at least 6 connections.
struct Service {
    pool: Arc<Knob<u32>>,
    slo: SloRef,
}

impl Service {
    fn new(prefix: &str) -> Service {
        let pool = KnobBuilder::new(format!("{prefix}.pool"), 8u32)
            .bounds(1, 16)
            .cost(1.0)
            .register()
            .expect("the pool knob registers");
        let slo = SloBuilder::new(format!("{prefix}.api"))
            .p99(Duration::from_millis(50))
            .register()
            .expect("the SLO registers");
        Service { pool, slo }
    }

    fn start(&self, config: Config) -> Handle {
        finch_core::start(
            config
                .manual()
                .knobs([self.pool.name()])
                .slos([self.slo.name()])
                .process_signals(false)
                .seed(5),
        )
        .expect("the loop starts")
    }

    fn serve(&self, window: u64) {
        let base = if self.pool.get() >= 6 {
            15_000
        } else {
            150_000
        };
        for k in 0..200u64 {
            let jitter = (k * 7919 + window * 104_729) % 5_000;
            self.slo
                .record(Duration::from_micros(base + jitter), Outcome::Ok);
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_cost_cut_that_breaks_the_objective_is_rolled_back_and_not_retried() {
    let svc = Service::new("rollback.regress");
    let finch = svc.start(Config::default());
    let mut rolled_back = None;
    let mut values = Vec::new();
    for w in 0..120 {
        svc.serve(w);
        let tick = finch.tick().await.unwrap();
        if let Some(d) = tick
            .judged
            .filter(|d| matches!(d.outcome, DecisionOutcome::RolledBack { .. }))
        {
            rolled_back.get_or_insert((w, d));
        }
        values.push(svc.pool.get());
    }
    let (at, d) = rolled_back.expect("the cut to 5 connections is undone");
    assert_eq!(d.changes[0].to, "5", "{d:?}");
    let after = &values[at as usize..];
    assert!(
        after.iter().all(|&v| v >= 6),
        "never back under 6: {after:?}"
    );
    assert_eq!(svc.pool.get(), 6, "settles on the cheapest adequate pool");
    let violated = values.iter().filter(|&&v| v < 6).count();
    assert_eq!(violated, 1, "one window paid for the lesson: {values:?}");
    let decisions = finch.status().decisions;
    assert!(
        decisions
            .iter()
            .any(|d| d.reason.starts_with("undoing decision")),
        "the rollback says what it undoes"
    );
    finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_applier_is_rolled_back_at_once() {
    let svc = Service::new("rollback.failing");
    svc.pool.set_applier(|size: u32| async move {
        if size < 7 {
            Err(ApplyError::new(format!(
                "the database refuses a pool of {size}"
            )))
        } else {
            Ok(())
        }
    });
    let finch = svc.start(Config::default());
    let mut failed = Vec::new();
    for w in 0..60 {
        svc.serve(w);
        let tick = finch.tick().await.unwrap();
        if let Some(d) = tick.decision
            && let DecisionOutcome::ApplyFailed { reason } = &d.outcome
        {
            failed.push(reason.clone());
        }
        assert!(svc.pool.get() >= 7, "a refused value never stays in force");
    }
    assert!(
        !failed.is_empty(),
        "the loop tried a cut the applier refused"
    );
    assert!(failed[0].contains("refuses a pool of"), "{failed:?}");
    assert!(
        failed.len() <= 3,
        "a refused move is not retried over and over: {failed:?}"
    );
    finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_applier_that_hangs_times_out_and_is_rolled_back() {
    let svc = Service::new("rollback.hanging");
    svc.pool.set_applier(|size: u32| async move {
        if size < 7 {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Ok(())
    });
    let finch = svc.start(Config::default().apply_timeout(Duration::from_millis(50)));
    let mut timed_out = false;
    for w in 0..30 {
        svc.serve(w);
        let tick = finch.tick().await.unwrap();
        if let Some(DecisionOutcome::ApplyFailed { reason }) = tick.decision.map(|d| d.outcome) {
            assert!(reason.contains("timed out"), "{reason}");
            timed_out = true;
        }
        assert!(svc.pool.get() >= 7);
    }
    assert!(timed_out, "the hanging applier was cut off");
    finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_applier_that_blocks_its_thread_cannot_stall_the_loop() {
    let svc = Service::new("rollback.blocking");
    // A synchronous call inside the applier that does not return until the
    // test releases it (or, as a fallback, after ten seconds).
    let (release, gate) = channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let returned = Arc::new(AtomicBool::new(false));
    {
        let returned = Arc::clone(&returned);
        svc.pool.set_applier(move |size: u32| {
            let (gate, returned) = (Arc::clone(&gate), Arc::clone(&returned));
            async move {
                if size < 7 {
                    let gate = gate.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = gate.recv_timeout(Duration::from_secs(10));
                    returned.store(true, Ordering::SeqCst);
                }
                Ok(())
            }
        });
    }
    let finch = svc.start(Config::default().apply_timeout(Duration::from_millis(50)));
    let mut failed = Vec::new();
    for w in 0..30 {
        svc.serve(w);
        let tick = finch.tick().await.unwrap();
        if let Some(DecisionOutcome::ApplyFailed { reason }) = tick.decision.map(|d| d.outcome) {
            assert!(
                !returned.load(Ordering::SeqCst),
                "the loop went on while the applier was still blocked"
            );
            failed.push(reason);
        }
        assert!(svc.pool.get() >= 7, "the blocked change is rolled back");
        assert_eq!(finch.status().iterations, w + 1, "the status stays live");
    }
    assert!(
        !failed.is_empty(),
        "the loop tried a cut the applier blocked"
    );
    assert!(failed[0].contains("timed out"), "{failed:?}");
    assert!(
        failed[1..].iter().all(|r| r.contains("has not returned")),
        "a blocked applier is not called again meanwhile: {failed:?}"
    );
    release.send(()).unwrap();
    finch.shutdown().await;
}
