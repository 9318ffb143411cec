//! The overhead benchmark in miniature: both arms as child processes of the
//! real binary against the real PostgreSQL, the report written. Asserts what
//! was measured, never how fast.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::DropDatabase;
use meal_planner::db::DbSettings;
use meal_planner::loadgen::client::{Client, Target};
use meal_planner::loadgen::scenario::Setup;
use meal_planner::overhead::{self, Arm, OverheadOptions};
use tokio::io::{AsyncBufReadExt, BufReader};

const EXE: &str = env!("CARGO_BIN_EXE_meal-planner");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_arms_are_measured_and_the_report_is_written() {
    let pid = std::process::id();
    let out = std::env::temp_dir().join(format!("meal-planner-overhead-test-{pid}"));
    let database = format!("mp_test_overhead_{pid}");
    let _drop = DropDatabase(database.clone());
    let options = OverheadOptions {
        database: database.clone(),
        rate: 50.0,
        warmup_s: 1.0,
        secs: 3.0,
        setup: Setup {
            users: 2,
            houses: 2,
            recipes: 20,
        },
        out: out.clone(),
        verbose: false,
        ..OverheadOptions::short(PathBuf::from(EXE))
    };
    let report = overhead::run(options).await.unwrap_or_else(|e| {
        panic!("the benchmark failed (PostgreSQL must be reachable; set DATABASE_URL): {e}")
    });

    let arms: Vec<Arm> = report.segments.iter().map(|s| s.arm).collect();
    assert_eq!(arms, [Arm::Absent, Arm::Finch]);
    for s in &report.segments {
        assert!(s.actions > 0, "{s:?}");
        assert!(s.completed > 0, "{s:?}");
        assert!(s.requests > 0, "{s:?}");
        assert!(s.cpu_ms > 0.0 && s.cpu_ms_per_request > 0.0, "{s:?}");
        assert!(s.p50_ms > 0.0 && s.p99_ms >= s.p50_ms, "{s:?}");
        assert!(s.rate > 0.0, "{s:?}");
    }
    assert_eq!(report.absent.segments, 1);
    assert_eq!(report.finch.segments, 1);
    assert!(report.ratios.p50.is_some_and(|r| r > 0.0));
    assert!(report.ratios.p99.is_some_and(|r| r > 0.0));
    assert!(report.ratios.cpu_per_request.is_some_and(|r| r > 0.0));

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let segments = json["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[0]["arm"], "absent");
    assert_eq!(segments[1]["arm"], "finch");
    assert!(json["ratios"]["cpu_per_request"].as_f64().is_some());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("finch / absent"), "{md}");
    // The database is dropped after the run.
    let settings = DbSettings::from_env(&database).unwrap();
    let (admin, connection) = settings
        .server
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let left = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .unwrap();
    assert!(left.is_none(), "the run drops its database");
    std::fs::remove_dir_all(&out).unwrap();
}

/// `serve --without-finch` serves the API without finch's routes; `serve
/// --static` serves them, with every knob frozen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arms_are_what_they_claim() {
    let database = format!("mp_test_overhead_arms_{}", std::process::id());
    let _drop = DropDatabase(database.clone());
    for (flag, finch_routes) in [("--without-finch", false), ("--static", true)] {
        let mut child = tokio::process::Command::new(EXE)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--database",
                &database,
                flag,
            ])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let line = tokio::time::timeout(
            Duration::from_secs(60),
            BufReader::new(stdout).lines().next_line(),
        )
        .await
        .expect("serve listens within a minute")
        .unwrap()
        .unwrap_or_else(|| panic!("serve {flag} exited (PostgreSQL must be reachable)"));
        let url = line.strip_prefix("meal-planner on ").unwrap();
        let client = Client::new(Target::parse(url).unwrap());

        let api = client.send(Method::GET, "/recipes?name=a", None).await;
        assert_eq!(api.unwrap().status, StatusCode::OK, "{flag}");
        if finch_routes {
            // The status lists the knobs from the loop's first iteration on.
            let mut knobs = Vec::new();
            for _ in 0..100 {
                let status = client
                    .send(Method::GET, "/finch/status", None)
                    .await
                    .unwrap();
                assert_eq!(status.status, StatusCode::OK, "{flag}");
                let body: serde_json::Value = serde_json::from_slice(&status.body).unwrap();
                knobs = body["knobs"].as_array().cloned().unwrap_or_default();
                if !knobs.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(!knobs.is_empty(), "the loop runs and lists its knobs");
            assert!(
                knobs.iter().all(|k| k["frozen"] == true),
                "every knob is frozen: {knobs:?}"
            );
        } else {
            let status = client
                .send(Method::GET, "/finch/status", None)
                .await
                .unwrap();
            assert_eq!(status.status, StatusCode::NOT_FOUND, "{flag}");
        }
        drop(client);

        let killed = std::process::Command::new("kill")
            .args(["-INT", &child.id().unwrap().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("serve exits on SIGINT")
            .unwrap();
        assert!(exit.success(), "serve {flag} exited with {exit}");
    }
}
