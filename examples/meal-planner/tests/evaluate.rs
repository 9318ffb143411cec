//! The adaptation benchmark in miniature on finch's proving ground: every arm
//! a `serve` child of the real binary against the real PostgreSQL, one seed, a
//! 2-point grid, a few windows with both faults, the harness's report written.
//! Asserts what was run and recorded, never how well.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::DropDatabase;
use finch::lab::{BEST_ARM, COLD_ARM, DEFAULT_ARM, ORACLE_ARM, WARM_ARM};
use meal_planner::evaluate::{self, EvaluateOptions};
use meal_planner::lab::{CPU_NEIGHBOUR, DB_LATENCY};
use meal_planner::loadgen::scenario::Scenario;
use meal_planner::tuning::POOL_SIZE_KNOB;

const EXE: &str = env!("CARGO_BIN_EXE_meal-planner");

const SCENARIO: &str = r#"
name = "tiny"
seed = 3
max_requests = 20000

[setup]
users = 2
houses = 2
recipes = 20

[[phase]]
name = "calm"
duration_s = 2
rate = 60
db_delay_ms = 1
mix = { read = 6, search = 2, plan = 2, pantry = 1, shopping_list = 1 }

[[phase]]
name = "slow"
duration_s = 2
rate = 90
db_delay_ms = 4
cpu_threads = 1
mix = { read = 3, plan = 3, pantry = 3 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_arm_runs_and_the_harness_judges_its_own_records() {
    let pid = std::process::id();
    let out = std::env::temp_dir().join(format!("meal-planner-evaluate-test-{pid}"));
    let database = format!("mp_test_evaluate_{pid}");
    let _drop = DropDatabase(database.clone());
    let load = Scenario::from_toml(SCENARIO).unwrap();
    let scenario = evaluate::scenario(&load, Duration::from_secs(1)).unwrap();
    let kinds: Vec<&str> = scenario.faults.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(kinds, [DB_LATENCY, CPU_NEIGHBOUR]);
    let options = EvaluateOptions {
        exe: PathBuf::from(EXE),
        load,
        scenario,
        seeds: 1,
        grid_seeds: 1,
        knobs: evaluate::knobs(&[4, 8], &[64], &[8], &[8]),
        out: out.clone(),
        database,
    };
    let report = evaluate::run(options).await.unwrap_or_else(|e| {
        panic!("the evaluation failed (PostgreSQL must be reachable; set DATABASE_URL): {e}")
    });

    let s = &report.scenarios[0];
    let arms: Vec<&str> = s.arms.iter().map(|a| a.arm.as_str()).collect();
    assert_eq!(
        arms,
        [DEFAULT_ARM, BEST_ARM, ORACLE_ARM, COLD_ARM, WARM_ARM]
    );
    let operations: Vec<&str> = report.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(operations, ["read", "search", "plan", "pantry"]);
    assert!(report.operations.iter().all(|o| !o.objectives.is_empty()));
    for a in &s.arms {
        assert_eq!(a.runs.len(), 1, "{}", a.arm);
        let run = &a.runs[0];
        assert_eq!(run.windows.len(), 4, "{}", a.arm);
        // Every window holds the calls this process recorded: about the
        // window's rate times the share of the judged actions.
        for w in &run.windows {
            assert!(w.calls >= 20, "{}: {w:?}", a.arm);
            assert!(w.cost > 0.0, "{}: {w:?}", a.arm);
        }
        assert!(run.windows.iter().any(|w| w.judged), "{}", a.arm);
    }
    // The knob values come back from the child: the default arm's pool is the
    // default, the best static's is what the grid asked for.
    let first_config = |arm: &str| {
        s.arm(arm).unwrap().runs[0].windows[0]
            .config
            .clone()
            .unwrap()
    };
    assert_eq!(first_config(DEFAULT_ARM)[POOL_SIZE_KNOB], 4.0);
    let best = s.best_static.as_ref().unwrap();
    assert_eq!(first_config(BEST_ARM)[POOL_SIZE_KNOB], best[POOL_SIZE_KNOB]);
    assert!(s.arm(COLD_ARM).unwrap().finch_cpu_ms.is_some());

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| finch warm |"), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        json["scenarios"][0]["arms"].as_array().map(Vec::len),
        Some(5)
    );
    let png = std::fs::read(out.join("report.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    std::fs::remove_dir_all(&out).unwrap();
}
