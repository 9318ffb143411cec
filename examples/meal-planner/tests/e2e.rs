//! End to end: the server on 127.0.0.1:0, driven by the load generator through
//! a short scenario; the generator's bounds and loopback rule.

mod common;

use std::sync::Arc;

use common::TestApp;
use meal_planner::loadgen::client::{Client, Target};
use meal_planner::loadgen::journey::World;
use meal_planner::loadgen::scenario::{Kind, Scenario};
use meal_planner::loadgen::{self, Load};

const SCENARIO: &str = r#"
name = "e2e"
seed = 3
max_requests = 5000

[setup]
users = 3
houses = 3
recipes = 20

[[phase]]
name = "reads"
duration_s = 3
rate = 40
mix = { read = 6, search = 2, shopping_list = 1 }

# No sign-ups: unoptimized Argon2 takes seconds a hash in a debug build.
[[phase]]
name = "writes"
duration_s = 3
rate = 30
mix = { plan = 3, pantry = 2, create_recipe = 1, house = 1 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_scenario_runs_against_the_server_on_loopback() {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let scenario = Scenario::from_toml(SCENARIO).unwrap();
    let client = Client::new(Target::new(addr).unwrap());
    let world = Arc::new(World::new(1));
    loadgen::setup(&client, &world, &scenario.setup, scenario.seed)
        .await
        .unwrap();
    assert_eq!(world.sizes(), (3, 3, 20));
    let reads_before = finch::slo_by_name("meal_planner.recipes.get")
        .unwrap()
        .calls();

    let load = Load::start(client, Arc::clone(&world), scenario, None);
    let mut windows = Vec::new();
    while !load.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        windows.push(load.recorder().take());
    }
    windows.push(load.recorder().take());
    let totals = load.finish().await.unwrap();

    let completed: u64 = windows.iter().map(|w| w.completed).sum();
    let errors: u64 = windows.iter().map(|w| w.errors).sum();
    assert!(
        totals.started > 100,
        "about 210 arrivals expected, got {}",
        totals.started
    );
    assert_eq!(completed, totals.started, "every action completes");
    assert_eq!(errors, 0, "{windows:#?}");
    assert_eq!(totals.dropped, 0);
    for kind in [Kind::Read, Kind::Pantry, Kind::Plan, Kind::House] {
        assert!(
            windows
                .iter()
                .any(|w| w.kinds.get(&kind).is_some_and(|k| k.completed > 0)),
            "no {kind:?} action ran"
        );
    }
    assert!(
        windows
            .iter()
            .any(|w| w.latency.is_some_and(|l| l.p99 > 0.0))
    );
    let reads = finch::slo_by_name("meal_planner.recipes.get")
        .unwrap()
        .calls()
        - reads_before;
    assert!(reads > 50, "the read SLO recorded {reads} calls");
    let (users, houses, recipes) = world.sizes();
    assert!(
        users == 3 && houses > 3 && recipes > 20,
        "{:?}",
        world.sizes()
    );
    server.abort();
}

#[test]
fn the_load_generator_refuses_non_loopback_targets_and_unbounded_scenarios() {
    for url in [
        "http://10.0.0.1:80",
        "http://example.com:3000",
        "https://127.0.0.1:3000",
    ] {
        assert!(Target::parse(url).is_err(), "{url} was accepted");
    }
    for url in [
        "http://127.0.0.1:3000",
        "http://localhost:8080",
        "http://[::1]:3000",
    ] {
        assert!(
            Target::parse(url).unwrap().addr().ip().is_loopback(),
            "{url}"
        );
    }
    let too_fast = SCENARIO.replace("rate = 40", "rate = 50000");
    assert!(
        Scenario::from_toml(&too_fast)
            .unwrap_err()
            .to_string()
            .contains("rate")
    );
    let too_long = SCENARIO.replace("duration_s = 3\nrate = 40", "duration_s = 7200\nrate = 40");
    assert!(Scenario::from_toml(&too_long).is_err());
    let no_mix = SCENARIO.replace(
        "mix = { read = 6, search = 2, shopping_list = 1 }",
        "mix = {}",
    );
    assert!(Scenario::from_toml(&no_mix).is_err());
    let unknown = SCENARIO.replace("read = 6", "dance = 6");
    assert!(Scenario::from_toml(&unknown).is_err());
    let shipped = Scenario::demo().unwrap();
    assert!(shipped.duration().as_secs() >= 120 && shipped.duration().as_secs() <= 600);
    assert!(Scenario::short().unwrap().duration().as_secs() < 60);
}
