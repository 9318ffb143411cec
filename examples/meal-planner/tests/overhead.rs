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
/// --static` serves them on the loopback operator listener, behind the token,
/// with every knob frozen, and never on the public one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arms_are_what_they_claim() {
    let database = format!("mp_test_overhead_arms_{}", std::process::id());
    let _drop = DropDatabase(database.clone());
    let token = meal_planner::admin::random_token();
    for (flag, finch_routes) in [("--without-finch", false), ("--static", true)] {
        let mut child = tokio::process::Command::new(EXE)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
                "--database",
                &database,
                flag,
            ])
            .env(meal_planner::admin::TOKEN_VAR, &token)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut admin = None;
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("serve listens within a minute")
                .unwrap()
                .unwrap_or_else(|| panic!("serve {flag} exited (PostgreSQL must be reachable)"));
            if let Some(a) = line.strip_prefix("meal-planner admin on ") {
                admin = Some(Client::new(Target::parse(a).unwrap()));
            } else if let Some(url) = line.strip_prefix("meal-planner on ") {
                break url.to_string();
            }
        };
        let client = Client::new(Target::parse(&url).unwrap());

        let health = client.send(Method::GET, "/health", None).await;
        assert_eq!(health.unwrap().status, StatusCode::OK, "{flag}");
        let public = client.send(Method::GET, "/finch/status", None).await;
        assert_eq!(public.unwrap().status, StatusCode::NOT_FOUND, "{flag}");
        assert_eq!(admin.is_some(), finch_routes, "{flag}");
        if let Some(admin) = admin {
            let anonymous = admin.send(Method::GET, "/finch/status", None).await;
            assert_eq!(anonymous.unwrap().status, StatusCode::UNAUTHORIZED);
            // The status lists the knobs from the loop's first iteration on.
            let mut knobs = Vec::new();
            for _ in 0..100 {
                let status = admin
                    .send_as(Some(&token), Method::GET, "/finch/status", None)
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

/// `serve` refuses, naming the fix, to start finch without an operator token
/// or with the operator routes on a public address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_missing_token_and_a_public_admin_address() {
    let token = meal_planner::admin::random_token();
    for (admin_addr, token, says) in [
        ("127.0.0.1:0", None, "MEAL_PLANNER_ADMIN_TOKEN is not set"),
        ("127.0.0.1:0", Some("short"), "at least 32"),
        ("0.0.0.0:0", Some(token.as_str()), "not a loopback address"),
    ] {
        let mut command = tokio::process::Command::new(EXE);
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--admin-addr", admin_addr])
            .env_remove(meal_planner::admin::TOKEN_VAR)
            .kill_on_drop(true);
        if let Some(t) = token {
            command.env(meal_planner::admin::TOKEN_VAR, t);
        }
        let out = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("serve exits within a minute")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{admin_addr} {token:?} started");
        assert!(stderr.contains(says), "`{says}` missing from: {stderr}");
    }
}
