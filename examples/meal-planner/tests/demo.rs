//! The demo in miniature: finch on, a latency proxy between the service and
//! PostgreSQL, CPU contention, the report written as JSON and PNG charts.

mod common;

use std::time::Duration;

use common::DropDatabase;
use meal_planner::demo::{self, DemoOptions};
use meal_planner::loadgen::scenario::Scenario;

const SCENARIO: &str = r#"
name = "mini"
seed = 5
max_requests = 20000

[setup]
users = 3
houses = 3
recipes = 30

[[phase]]
name = "calm"
duration_s = 4
rate = 40
db_delay_ms = 1
mix = { read = 6, search = 2, plan = 2, pantry = 1, shopping_list = 1 }

[[phase]]
name = "busy, slow database, noisy neighbour"
duration_s = 4
rate = 120
db_delay_ms = 5
cpu_threads = 1
mix = { read = 6, search = 2, plan = 2, pantry = 1, shopping_list = 1 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_a_scenario_and_writes_its_report() {
    let out = std::env::temp_dir().join(format!("meal-planner-demo-test-{}", std::process::id()));
    let database = format!("mp_test_demo_{}", std::process::id());
    let _drop = DropDatabase(database.clone());
    let summary = demo::run(DemoOptions {
        adaptive: true,
        scenario: Scenario::from_toml(SCENARIO).unwrap(),
        out: out.clone(),
        interval: Duration::from_millis(500),
        database: database.clone(),
        verbose: false,
        set: Vec::new(),
        knowledge: None,
    })
    .await
    .unwrap();

    assert_eq!(summary.mode, "finch");
    assert!(summary.windows >= 12, "{summary}");
    assert!(summary.actions > 400, "{summary}");
    assert!(summary.slos.contains_key("meal_planner.recipes.get"));
    assert!(summary.knobs_at_end.contains_key("pool"), "{summary}");
    assert!(summary.knobs_at_end.contains_key("work_mem"), "{summary}");
    // What the service's connections run with is what finch's knob says.
    let work_mem = summary
        .work_mem_at_end
        .as_ref()
        .expect("work_mem read after the run");
    assert_eq!(demo::show_kb(work_mem.knob_kb), work_mem.shown, "{summary}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let windows = report["windows"].as_array().unwrap();
    assert_eq!(windows.len() as u32, summary.windows);
    assert!(
        windows.iter().any(|w| w["pg"]["work_mem"].is_string()),
        "the windows show work_mem as the pooled connections see it"
    );
    assert!(
        windows
            .iter()
            .any(|w| w["phase"] == "busy, slow database, noisy neighbour")
    );
    assert_eq!(windows[0]["objectives"].as_array().unwrap().len(), 6);
    for png in ["slis.png", "knobs.png"] {
        let bytes = std::fs::read(out.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
        assert!(bytes.len() > 10_000, "{png} is nearly empty");
    }
    std::fs::remove_dir_all(&out).unwrap();
}
