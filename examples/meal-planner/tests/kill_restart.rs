//! Fault injection: the service (a `serve` child with finch on a file
//! knowledge directory) is killed with SIGKILL under load and restarted on the
//! same directory. Nothing written to the store before the kill is lost, and
//! the restarted loop starts warm from it. Loopback only; bounded in time.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::DropDatabase;
use finch::knowledge::{FileStore, Knowledge, KnowledgeStore};
use meal_planner::demo::MANAGED_SLOS;
use meal_planner::lab::server::Server;
use meal_planner::loadgen::client::{Client, Target};
use meal_planner::loadgen::journey::World;
use meal_planner::loadgen::scenario::Scenario;
use meal_planner::loadgen::{self, Load};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_meal-planner");

/// One long phase: the kill always lands while it runs.
const SCENARIO: &str = r#"
name = "kill"
seed = 5
max_requests = 20000

[setup]
users = 2
houses = 2
recipes = 20

[[phase]]
name = "steady"
duration_s = 240
rate = 40
mix = { read = 6, search = 2, plan = 2, pantry = 1 }
"#;

/// How long a status condition may take to hold before the test fails (a
/// model trains after about 50 s of load here).
const PATIENCE: Duration = Duration::from_secs(180);

/// A `serve` child with finch keeping its knowledge in `dir`, under a stable
/// instance name (a restarted service is the same instance).
async fn serve(database: &str, dir: &Path) -> Server {
    let args = [
        "--database".to_string(),
        database.to_string(),
        "--knowledge".to_string(),
        dir.display().to_string(),
    ];
    let env = [
        ("FINCH_INTERVAL".to_string(), "250ms".to_string()),
        ("FINCH_SEED".to_string(), "5".to_string()),
        (
            "FINCH_INSTANCE".to_string(),
            "meal-planner-kill".to_string(),
        ),
        ("FINCH_SLOS".to_string(), MANAGED_SLOS.join(",")),
    ];
    Server::start(Path::new(EXE), &args, &env)
        .await
        .unwrap_or_else(|e| panic!("the service did not start (is PostgreSQL up?): {e}"))
}

/// The child's status once `ready` holds for it.
async fn status_when(server: &Server, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = server
            .status()
            .await
            .expect("GET /finch/status")
            .expect("finch runs");
        if ready(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}: {status:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn number(status: &Value, pointer: &str) -> u64 {
    status.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// What a copy of the store's files holds (the store locks its directory, so
/// the live one is read through a copy of its files).
async fn read_copy(dir: &Path, copy: &Path) -> Knowledge {
    std::fs::create_dir_all(copy).expect("a directory for the copy");
    for file in ["journal.log", "model.bin"] {
        if dir.join(file).exists() {
            std::fs::copy(dir.join(file), copy.join(file)).expect("a copy of the store's file");
        }
    }
    let store = FileStore::open(copy).expect("the copy opens as a store");
    store.load(usize::MAX).await.expect("the copy loads")
}

/// Observations by (instance, seq) with their window start, decision ids.
fn keys(k: &Knowledge) -> (BTreeMap<(String, u64), u64>, BTreeSet<u64>) {
    let observations = k
        .observations
        .iter()
        .map(|o| ((o.instance.clone(), o.seq), o.at_ms))
        .collect();
    let decisions = k.decisions.iter().map(|d| d.id).collect();
    (observations, decisions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_under_load_loses_nothing_written_and_restarts_warm() {
    let pid = std::process::id();
    let work = std::env::temp_dir().join(format!("meal-planner-kill-test-{pid}"));
    let dir: PathBuf = work.join("knowledge");
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("mp_test_kill_{pid}");
    let _drop = DropDatabase(database.clone());

    let mut first = serve(&database, &dir).await;
    let client = Client::new(Target::new(first.addr()).unwrap());
    first.wait_until_answering(&client).await.unwrap();
    let scenario = Scenario::from_toml(SCENARIO).unwrap();
    let world = Arc::new(World::new(u64::from(pid)));
    loadgen::setup(&client, &world, &scenario.setup, scenario.seed)
        .await
        .unwrap();
    let load = Load::start(client, world, scenario, None);

    // Under load until a model is trained (and saved) and the store has
    // acknowledged a good part of the run.
    status_when(&first, "a model trained and writes acknowledged", |s| {
        s.pointer("/model/trained") == Some(&Value::Bool(true))
            && number(s, "/knowledge/written") >= 12
    })
    .await;
    let written = read_copy(&dir, &work.join("before")).await;
    assert!(!load.is_finished(), "the kill lands while the load runs");
    first.kill().await.unwrap();

    let (observations, decisions) = keys(&written);
    let own: Vec<&(String, u64)> = observations
        .keys()
        .filter(|(instance, _)| instance == "meal-planner-kill")
        .collect();
    assert!(own.len() >= 10, "{} observations written", own.len());
    let last_seq = own.iter().map(|(_, seq)| *seq).max().unwrap();

    // Restarted on the same directory: warm from what was written.
    let mut second = serve(&database, &dir).await;
    let restarted = status_when(&second, "the restarted loop ran", |s| {
        number(s, "/iterations") >= 1
    })
    .await;
    let clean = written.observations.iter().filter(|o| o.clean).count() as u64;
    assert!(
        number(&restarted, "/model/available") >= clean,
        "the observations are back: {} of {clean}",
        number(&restarted, "/model/available")
    );
    assert!(
        written.model.is_some(),
        "the model was saved before the kill"
    );
    assert_eq!(
        restarted.pointer("/model/trained"),
        Some(&Value::Bool(true)),
        "the stored model is back"
    );
    let remembered: BTreeSet<u64> = restarted["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_u64())
        .collect();
    if let Some(newest) = decisions.last() {
        assert!(
            remembered.contains(newest),
            "the decisions are back: {newest} in {remembered:?}"
        );
    }
    second.stop().await.unwrap();

    // Everything written before the kill is in the store, numbering went on.
    let after = FileStore::open(&dir)
        .unwrap()
        .load(usize::MAX)
        .await
        .unwrap();
    let (observations_after, decisions_after) = keys(&after);
    for (key, at_ms) in &observations {
        assert_eq!(
            observations_after.get(key),
            Some(at_ms),
            "observation {key:?} lost"
        );
    }
    assert!(decisions.is_subset(&decisions_after), "a decision was lost");
    assert!(
        observations_after
            .keys()
            .any(|(instance, seq)| instance == "meal-planner-kill" && *seq > last_seq),
        "the restarted service numbered on after {last_seq}"
    );
    std::fs::remove_dir_all(&work).unwrap();
}
