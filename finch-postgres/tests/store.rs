//! The knowledge store: migrations, idempotent batched writes, loading, and
//! several instances sharing one store under concurrent writes.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{TestDb, decision, observation};
use finch_core::execute::DecisionOutcome;
use finch_core::knowledge::{KnowledgeStore, ModelBlob, Record};
use finch_postgres::PgStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_versioned_idempotent_and_safe_to_run_together() {
    let db = TestDb::create("finch_pg_migrate").await;
    let pool = db.pool(8, None, None);
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let store = PgStore::new(pool.clone()).expect("store");
        runs.spawn(async move { store.migrate().await });
    }
    while let Some(r) = runs.join_next().await {
        assert_eq!(r.expect("task").expect("migrated"), 2);
    }
    let again = PgStore::new(pool.clone()).expect("store");
    assert_eq!(again.migrate().await.expect("migrated"), 2);
    let client = db.client().await;
    let rows = client
        .query("SELECT version, name FROM finch.migrations", &[])
        .await
        .expect("migrations table");
    assert_eq!(rows.len(), 2);
    let other = PgStore::with_schema(pool.clone(), "finch_other").expect("store");
    assert_eq!(other.migrate().await.expect("second schema"), 2);
    assert!(PgStore::with_schema(pool, "x\"; DROP SCHEMA finch; --").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_idempotent_and_everything_loads_back() {
    let db = TestDb::create("finch_pg_store").await;
    let store = PgStore::new(db.pool(2, None, None)).expect("store");
    let batch: Vec<Record> = (1..=5)
        .map(|s| Record::Observation(observation("a", s)))
        .chain([Record::Decision(decision("a", 1, DecisionOutcome::Pending))])
        .collect();
    store.append(batch.clone()).await.expect("append");
    store
        .append(batch)
        .await
        .expect("the same batch again (a retry)");
    let kept = decision(
        "a",
        1,
        DecisionOutcome::Kept {
            note: "p99 fell to 31 ms".into(),
        },
    );
    store
        .append(vec![Record::Decision(kept.clone())])
        .await
        .expect("append");
    store
        .append(vec![Record::Decision(decision(
            "a",
            1,
            DecisionOutcome::Pending,
        ))])
        .await
        .expect("a late retry of the earlier state");
    for at_ms in [10, 20] {
        store
            .save_model(ModelBlob {
                instance: "a".into(),
                at_ms,
                bytes: vec![0, 1, 2, 255, at_ms as u8],
            })
            .await
            .expect("model");
    }

    let k = store.load(3).await.expect("load");
    let seqs: Vec<u64> = k.observations.iter().map(|o| o.seq).collect();
    assert_eq!(seqs, vec![3, 4, 5], "the most recent, oldest first");
    assert_eq!(k.observations[2], observation("a", 5), "exact round trip");
    assert_eq!(k.decisions, vec![kept], "one decision, in its latest state");
    let model = k.model.expect("model");
    assert_eq!((model.at_ms, model.bytes), (20, vec![0, 1, 2, 255, 20]));

    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT count(*), min(outcome), min(changes) FROM finch.decisions",
            &[],
        )
        .await
        .expect("readable decision log");
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, String>(1), "kept");
    assert_eq!(row.get::<_, String>(2), "pg.work_mem: 4096 -> 8192");
    let n: i64 = client
        .query_one("SELECT count(*) FROM finch.observations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 5, "no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_one_store_under_concurrent_writes() {
    let db = TestDb::create("finch_pg_shared").await;
    let pool = db.pool(8, None, None);
    let a = Arc::new(PgStore::new(pool.clone()).expect("store a"));
    let b = Arc::new(PgStore::connect(&db.url()).expect("store b"));
    a.migrate().await.expect("migrated");
    a.append(vec![Record::Observation(observation("b", 1))])
        .await
        .expect("written before a loads");
    let loaded = a.load(100).await.expect("load");
    assert_eq!(loaded.observations.len(), 1);

    // Three writers per instance, batches of 7, while `a` keeps reading what `b` shares.
    let mut writers = tokio::task::JoinSet::new();
    for (store, instance) in [(&a, "a"), (&b, "b")] {
        for w in 0..3u64 {
            let store = Arc::clone(store);
            writers.spawn(async move {
                for chunk in 0..10u64 {
                    let batch = (0..7)
                        .map(|i| {
                            Record::Observation(observation(
                                instance,
                                1000 + w * 100 + chunk * 7 + i,
                            ))
                        })
                        .collect();
                    store.append(batch).await.expect("append");
                }
            });
        }
    }
    let reader = {
        let a = Arc::clone(&a);
        tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let (obs, next) = a.shared_since("a", cursor).await.expect("shared_since");
                assert!(next >= cursor, "the cursor only moves forward");
                let done = obs.is_empty() && seen.len() >= 210;
                seen.extend(obs.into_iter().map(|o| (o.instance, o.seq)));
                cursor = next;
                if done {
                    return seen;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    while let Some(w) = writers.join_next().await {
        w.expect("writer");
    }
    let seen = tokio::time::timeout(std::time::Duration::from_secs(20), reader)
        .await
        .expect("the reader saw everything in time")
        .expect("reader");
    assert!(
        seen.iter().all(|(i, _)| i == "b"),
        "only the other instance's observations"
    );
    let unique: BTreeSet<u64> = seen.iter().map(|(_, s)| *s).collect();
    assert_eq!(seen.len(), 210, "each exactly once, none before the load");
    assert_eq!(unique.len(), 210);

    let (from_b, _) = b.shared_since("b", 0).await.expect("b reads a");
    assert!(from_b.iter().all(|o| o.instance == "a"));
    assert_eq!(from_b.len(), 210);
}
