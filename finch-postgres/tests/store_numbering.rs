//! Numbering across restarts: an instance restarted under its stable name
//! numbers its observations and decisions on after everything it wrote, even
//! when the newest rows of the store are all other instances'.

mod common;

use std::time::Duration;

use common::{TestDb, decision, observation};
use finch_core::execute::DecisionOutcome;
use finch_core::knowledge::{KnowledgeStore, Numbering, Record};
use finch_core::{Config, KnobBuilder, SloBuilder};
use finch_postgres::PgStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_instance_numbers_on_after_its_own_rows() {
    let db = TestDb::create("finch_pg_numbering").await;
    let url = db.url();
    let earlier = PgStore::connect(&url).expect("store");
    let mut own: Vec<Record> = (1..=5)
        .map(|s| Record::Observation(observation("api-1", s)))
        .collect();
    own.extend((1..=3).map(|id| Record::Decision(decision("api-1", id, DecisionOutcome::Pending))));
    earlier.append(own).await.expect("the first run's records");
    // Another replica kept writing after api-1 stopped.
    let others = (1..=40)
        .map(|s| Record::Observation(observation("api-2", s)))
        .chain((1..=30).map(|id| Record::Decision(decision("api-2", id, DecisionOutcome::Pending))))
        .collect();
    earlier
        .append(others)
        .await
        .expect("the other replica's records");
    let loaded = earlier.load(10).await.expect("load");
    assert!(loaded.observations.iter().all(|o| o.instance == "api-2"));
    assert_eq!(
        earlier.last_numbers("api-1").await.expect("numbers"),
        Some(Numbering {
            last_seq: 5,
            last_decision: 3,
        })
    );
    assert_eq!(
        earlier.last_numbers("api-3").await.expect("numbers"),
        Some(Numbering::default()),
        "a new instance starts from nothing"
    );

    KnobBuilder::new("pgnum.workers", 4u32)
        .bounds(1, 8)
        .cost(1.0)
        .register()
        .expect("the knob registers");
    SloBuilder::new("pgnum.api")
        .p99(Duration::from_millis(50))
        .register()
        .expect("the SLO registers");
    let model = finch_core::ModelConfig {
        max_samples: 10,
        min_samples: 10,
        ..Default::default()
    };
    let finch = finch_core::start(
        Config::default()
            .manual()
            .instance("api-1")
            .model(model)
            .knobs(["pgnum.workers"])
            .slos(["pgnum.api"])
            .process_signals(false)
            .store(PgStore::connect(&url).expect("store")),
    )
    .expect("the loop restarts");
    let tick = finch.tick().await.expect("an iteration");
    assert_eq!(tick.observation.seq, 6, "numbering goes on after seq 5");
    let pin = finch.pin("pgnum.workers", "6").await.expect("a pin");
    assert_eq!(pin.id, 4, "decision ids go on after 3");
    finch.shutdown().await;

    let client = db.client().await;
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM finch.observations WHERE instance = 'api-1'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(
        n, 6,
        "the new observation was written, not dropped as a duplicate"
    );
}
