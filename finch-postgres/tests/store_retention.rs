//! What the store keeps: rows within their bound, the models of recent
//! instances, and every intact row or model when one is damaged.

mod common;

use common::{TestDb, decision, observation};
use finch_core::execute::DecisionOutcome;
use finch_core::knowledge::{KnowledgeStore, ModelBlob, Record};
use finch_postgres::PgStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_row_is_skipped_and_counted_never_fatal() {
    let db = TestDb::create("finch_pg_poison").await;
    let store = PgStore::connect(&db.url()).expect("store");
    let batch = (1..=3)
        .map(|s| Record::Observation(observation("api-2", s)))
        .chain([Record::Decision(decision(
            "api-2",
            1,
            DecisionOutcome::Pending,
        ))])
        .collect();
    store.append(batch).await.expect("append");
    for (instance, at_ms) in [("api-1", 1), ("api-2", 2)] {
        let model = ModelBlob {
            instance: instance.into(),
            at_ms,
            bytes: vec![9; 32],
        };
        store.save_model(model).await.expect("model");
    }
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO finch.observations (instance, seq, at_ms, clean, body)
                 VALUES ('api-2', 99, 0, true, '\\xffffffff');
             INSERT INTO finch.decisions
                 (instance, id, win, at_ms, kind, outcome, rank, reason, changes, body)
                 VALUES ('api-2', 99, 0, 0, 'exploit', 'kept', 1, '', '', '\\xff');
             UPDATE finch.models SET bytes = '\\x0909' WHERE instance = 'api-2';",
        )
        .await
        .expect("damaged rows");
    store
        .append(vec![Record::Observation(observation("api-2", 4))])
        .await
        .expect("append after the damage");

    let fresh = PgStore::connect(&db.url()).expect("a restarted instance's store");
    let k = fresh
        .load(100)
        .await
        .expect("a damaged row does not fail the load");
    let seqs: Vec<u64> = k.observations.iter().map(|o| o.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(k.decisions.len(), 1);
    let model = k.model.expect("the newest intact model");
    assert_eq!(
        model.instance, "api-1",
        "the damaged newer model is skipped"
    );
    assert_eq!(fresh.skipped_rows(), 3);

    let other = PgStore::connect(&db.url()).expect("another replica's store");
    let mut cursor = 0;
    let mut shared = Vec::new();
    loop {
        let (obs, next) = other.shared_since("api-1", cursor).await.expect("shared");
        if obs.is_empty() && next == cursor {
            break;
        }
        shared.extend(obs.into_iter().map(|o| o.seq));
        cursor = next;
    }
    assert_eq!(
        shared,
        vec![1, 2, 3, 4],
        "sharing goes past the damaged row"
    );
    assert_eq!(other.skipped_rows(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_and_models_stay_within_their_bounds() {
    let db = TestDb::create("finch_pg_retention").await;
    let store = PgStore::connect(&db.url()).expect("store").max_rows(50);
    for i in 0..20u64 {
        store
            .save_model(ModelBlob {
                instance: format!("gone-{i}"),
                at_ms: i,
                bytes: vec![1, 2, 3],
            })
            .await
            .expect("model");
    }
    // Retention runs every 64 writes, the first one included: 193 writes
    // end on a pass.
    for seq in 1..=193u64 {
        let batch = vec![
            Record::Observation(observation("api-1", seq)),
            Record::Decision(decision("api-1", seq, DecisionOutcome::Pending)),
        ];
        store.append(batch).await.expect("append");
    }
    let client = db.client().await;
    for (table, key) in [("observations", "seq"), ("decisions", "id")] {
        let row = client
            .query_one(
                &format!("SELECT count(*), max({key}) FROM finch.{table}"),
                &[],
            )
            .await
            .expect("count");
        let rows: i64 = row.get(0);
        assert!(rows <= 50, "{table}: {rows} rows");
        assert_eq!(row.get::<_, i64>(1), 193, "{table} keeps the newest");
    }
    let models: i64 = client
        .query_one("SELECT count(*) FROM finch.models", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(models, 16, "the models of the 16 latest instances");
    let k = store.load(1000).await.expect("load");
    assert_eq!(k.model.expect("a model").instance, "gone-19");
}
