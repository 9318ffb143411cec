//! The proving ground's harness, end to end on a tiny in-process subject:
//! every arm runs, windows are judged from the subject's own records, the
//! oracle is no costlier than the best static configuration, and the same
//! seeds give the same report.

use std::sync::Arc;
use std::time::Duration;

use finch::lab::{
    ArmKind, BEST_ARM, BoxError, COLD_ARM, Call, Configuration, DEFAULT_ARM, Experiment, Fault,
    KnobAxis, ORACLE_ARM, Operation, Phase, Run, SWITCHING_ARM, Scenario, Subject, WARM_ARM,
    WindowOutcome, WindowPlan, apply, current,
};
use finch::slo::SloRef;
use finch::{Config, Knob, KnobBuilder, Objective, Quantile, SloBuilder};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const KNOB: &str = "lab_test.workers";

/// Calls take 3 ms × load ÷ workers (×2 while a "slow" fault is active),
/// jittered ±50 %; the objective is p99 < 20 ms.
struct Toy {
    workers: Arc<Knob<u32>>,
    slo: SloRef,
    rng: ChaCha8Rng,
    clock: f64,
}

impl Toy {
    fn new() -> Self {
        Toy {
            workers: KnobBuilder::new(KNOB, 2u32)
                .bounds(1, 16)
                .cost(1.0)
                .register()
                .expect("knob registers"),
            slo: SloBuilder::new("lab_test.api")
                .p99(Duration::from_millis(20))
                .register()
                .expect("slo registers"),
            rng: ChaCha8Rng::seed_from_u64(0),
            clock: 0.0,
        }
    }
}

impl Subject for Toy {
    fn operations(&self) -> Vec<Operation> {
        vec![Operation {
            name: "api".into(),
            objectives: vec![Objective::Latency {
                quantile: Quantile::P99,
                threshold: Duration::from_millis(20),
            }],
        }]
    }

    fn knobs(&self) -> Vec<KnobAxis> {
        vec![KnobAxis {
            name: KNOB.into(),
            default: 2.0,
            grid: vec![1.0, 2.0, 4.0, 8.0, 16.0],
        }]
    }

    fn cost(&self, config: &Configuration) -> f64 {
        config.get(KNOB).copied().unwrap_or(0.0)
    }

    fn finch_config(&self, _: &Run<'_>) -> Option<Config> {
        Some(
            Config::default()
                .knobs([KNOB])
                .slos(["lab_test.api"])
                .process_signals(false),
        )
    }

    async fn set_up(&mut self, run: &Run<'_>) -> Result<(), BoxError> {
        self.rng = ChaCha8Rng::seed_from_u64(run.seed);
        self.clock = 0.0;
        match run.kind {
            ArmKind::Static { config } => apply(config),
            ArmKind::Finch { .. } => apply(&Configuration::from([(KNOB.to_string(), 2.0)])),
        }
    }

    async fn window(
        &mut self,
        run: &Run<'_>,
        plan: &WindowPlan,
        calls: &mut Vec<Call>,
    ) -> Result<WindowOutcome, BoxError> {
        let slow = plan
            .fault(run.scenario, "slow")
            .map_or(1.0, |f| f.magnitude);
        let workers = f64::from(self.workers.get());
        let n = (plan.rate * plan.length.as_secs_f64()) as usize;
        for i in 0..n {
            let latency =
                0.003 * plan.rate / 100.0 / workers * slow * self.rng.random_range(0.5..1.5);
            self.slo
                .record(Duration::from_secs_f64(latency), finch::Outcome::Ok);
            calls.push(Call {
                op: 0,
                at: self.clock + i as f64 / n as f64,
                latency,
                ok: true,
            });
        }
        self.clock += plan.length.as_secs_f64();
        Ok(WindowOutcome {
            config: current([KNOB]),
            decision: None,
        })
    }
}

fn scenario() -> Scenario {
    Scenario::new("toy", Duration::from_secs(1))
        .describe("200 req/s, then 1000 req/s, then 200 again; a slow episode")
        .phase(Phase::new("calm", 30, 200.0))
        .phase(Phase::new("rush", 30, 1000.0))
        .phase(Phase::new("evening", 30, 200.0))
        .fault(Fault::new("slow", 2.0).during(50, 55))
}

#[tokio::test(flavor = "current_thread")]
async fn every_arm_runs_and_the_report_is_judged_from_the_records() {
    let out = tempfile::tempdir().expect("tempdir");
    let mut toy = Toy::new();
    let experiment = Experiment::new("toy", out.path())
        .scenario(scenario())
        .seeds([1, 2, 3])
        .grid_seeds(2);
    let report = experiment.run(&mut toy).await.expect("experiment runs");
    let s = &report.scenarios[0];
    let arm = |name: &str| s.arm(name).unwrap_or_else(|| panic!("arm {name} missing"));
    for name in [DEFAULT_ARM, BEST_ARM, ORACLE_ARM, COLD_ARM, WARM_ARM] {
        let a = arm(name);
        assert_eq!(
            a.runs.len(),
            if name == ORACLE_ARM { 2 } else { 3 },
            "{name}"
        );
        assert!(a.runs.iter().all(|r| r.windows.len() == 90), "{name}");
    }
    // The default (2 workers) fails the rush: 3 ms × 10 ÷ 2 = 15 ms mean, up to
    // 22.5 ms; 4 workers hold it except while slow; 8 hold everywhere.
    let default = arm(DEFAULT_ARM);
    assert!(default.violating.mean > 0.05, "{:?}", default.violating);
    let best = arm(BEST_ARM);
    assert_eq!(best.violating.mean, 0.0);
    assert_eq!(s.best_static.as_ref().map(|c| c[KNOB]), Some(8.0));
    let oracle = arm(ORACLE_ARM);
    assert!(
        oracle.cost.mean < best.cost.mean,
        "the oracle runs the calm phases cheaper"
    );
    assert_eq!(oracle.violating.mean, 0.0);
    // One pick per segment between shifts: 8 workers only while the rush is slow.
    let picks: Vec<f64> = s.oracle.iter().map(|o| o.config[KNOB]).collect();
    assert_eq!(picks, vec![1.0, 4.0, 8.0, 4.0, 1.0]);
    // The switching oracle puts those picks in force live, at each segment's
    // first window; this toy has nothing to warm up, so it does as well.
    let switching = arm(SWITCHING_ARM);
    assert_eq!(switching.runs.len(), 3);
    for r in &switching.runs {
        assert_eq!(r.windows.len(), 90);
        let changes: Vec<(u32, f64)> = r
            .windows
            .iter()
            .filter_map(|w| Some((w.index, w.config.as_ref()?[KNOB])))
            .collect();
        assert_eq!(
            changes,
            vec![(0, 1.0), (30, 4.0), (50, 8.0), (55, 4.0), (60, 1.0)]
        );
    }
    assert_eq!(switching.violating.mean, 0.0);
    // Recovery is counted after each shift (phase starts and the fault's ends).
    assert_eq!(s.shifts, vec![30, 50, 55, 60]);
    assert_eq!(default.recovery.len(), 4);
    // finch's arms stay within the knob's bounds and report their CPU.
    for name in [COLD_ARM, WARM_ARM] {
        for r in &arm(name).runs {
            assert!(r.finch_cpu_secs.is_some());
            let mut workers = 2.0;
            for w in &r.windows {
                if let Some(c) = &w.config {
                    workers = c[KNOB];
                }
                assert!((1.0..=16.0).contains(&workers), "{name}: {workers}");
            }
        }
    }

    let md = report.markdown();
    for name in [DEFAULT_ARM, BEST_ARM, ORACLE_ARM, COLD_ARM, WARM_ARM] {
        assert!(md.contains(&format!("| {name} |")), "{md}");
    }
    assert!(md.contains("⌈1/(1−q)⌉"), "the judging rule is stated");
    report
        .write(out.path().join("report"))
        .expect("report written");
    for file in ["report.md", "report.json", "report.png"] {
        let len = std::fs::metadata(out.path().join("report").join(file))
            .expect(file)
            .len();
        assert!(len > 100, "{file} has content");
    }

    // The same seeds give the same static arms, window by window.
    let again = Experiment::new("toy", out.path())
        .scenario(scenario())
        .seeds([1, 2, 3])
        .grid_seeds(2)
        .arms(finch::lab::Arms {
            default: true,
            grid: true,
            cold: false,
            warm: false,
        })
        .run(&mut toy)
        .await
        .expect("experiment runs again");
    let s2 = &again.scenarios[0];
    for name in [DEFAULT_ARM, BEST_ARM, ORACLE_ARM] {
        assert_eq!(
            s2.arm(name).map(|a| &a.runs),
            Some(&arm(name).runs),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_warm_arm_without_a_cold_one_is_refused_with_the_fix() {
    let err = Experiment::new("bad", "target/lab-test")
        .scenario(scenario())
        .arms(finch::lab::Arms {
            default: false,
            grid: false,
            cold: false,
            warm: true,
        })
        .run(&mut NoSubject)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("enable `cold`"), "{err}");
}

struct NoSubject;

impl Subject for NoSubject {
    fn operations(&self) -> Vec<Operation> {
        Vec::new()
    }
    fn knobs(&self) -> Vec<KnobAxis> {
        Vec::new()
    }
    fn cost(&self, _: &Configuration) -> f64 {
        0.0
    }
    async fn set_up(&mut self, _: &Run<'_>) -> Result<(), BoxError> {
        Ok(())
    }
    async fn window(
        &mut self,
        _: &Run<'_>,
        _: &WindowPlan,
        _: &mut Vec<Call>,
    ) -> Result<WindowOutcome, BoxError> {
        Ok(WindowOutcome::default())
    }
}
