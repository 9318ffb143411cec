//! PostgreSQL signals: per-window deltas of pg_stat_database, pg_stat_activity
//! counts and the pool's status.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::TestDb;
use finch_core::monitor::{SignalRole, SignalSource};
use finch_postgres::PgSignals;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_report_deltas_activity_and_pool_status() {
    let db = TestDb::create("finch_pg_signals").await;
    let pool = db.pool(3, None, None);
    let signals = PgSignals::new(pool.clone());
    assert_eq!(signals.name(), "pg");

    let first: BTreeMap<String, f64> = signals
        .sample()
        .await
        .expect("first sample")
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    assert!(
        !first.contains_key("commits_per_sec"),
        "no delta on the first sample"
    );
    assert_eq!(first["pool_max"], 3.0);

    let work = db.client().await;
    work.batch_execute(
        "CREATE TABLE t (x int);
         INSERT INTO t SELECT generate_series(1, 1000);",
    )
    .await
    .expect("workload");
    for _ in 0..20 {
        work.batch_execute("BEGIN; UPDATE t SET x = x + 1 WHERE x < 10; COMMIT;")
            .await
            .expect("commit");
    }
    work.batch_execute("BEGIN; SELECT 1; ROLLBACK;")
        .await
        .expect("rollback");
    work.batch_execute("SET work_mem = '64kB'; SELECT count(*) FROM (SELECT x FROM t, generate_series(1, 200) g ORDER BY x, g) s;")
        .await
        .expect("a sort that spills");
    work.query_one("SELECT pg_stat_force_next_flush()", &[])
        .await
        .expect("flush stats");

    // An idle-in-transaction session holding a lock, and one waiting on it.
    let holder = db.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;")
        .await
        .expect("lock");
    let waiter = db.client().await;
    let blocked = tokio::spawn(async move { waiter.query("SELECT count(*) FROM t", &[]).await });
    let held = pool.get().await.expect("a busy pool connection");

    let mut second = BTreeMap::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let sampled = signals.sample().await.expect("sample");
        assert!(sampled.iter().all(|s| s.role == SignalRole::Internal));
        second = sampled.into_iter().map(|s| (s.name, s.value)).collect();
        if second.get("commits_per_sec").copied().unwrap_or(0.0) > 0.0
            && second.get("temp_bytes_per_sec").copied().unwrap_or(0.0) > 0.0
            && second["lock_waiting"] >= 1.0
        {
            break;
        }
    }
    assert!(second["commits_per_sec"] > 0.0, "{second:?}");
    assert!(
        second["temp_bytes_per_sec"] > 0.0,
        "a spilled sort: {second:?}"
    );
    assert!(second.contains_key("rollbacks_per_sec"));
    assert!(second["deadlocks"] >= 0.0);
    assert!((0.0..=1.0).contains(&second["hit_ratio"]), "{second:?}");
    assert!(second["lock_waiting"] >= 1.0, "{second:?}");
    assert!(second["idle_in_transaction"] >= 1.0, "{second:?}");
    assert!(second["active"] >= 1.0, "the waiter is active: {second:?}");
    // The pool's status is read before the sampler takes a connection: the
    // pool's only connection is held by the application.
    assert_eq!(second["pool_size"], 1.0, "{second:?}");
    assert_eq!(second["pool_available"], 0.0, "{second:?}");
    assert_eq!(second["pool_waiting"], 0.0, "{second:?}");

    drop(held);
    holder.batch_execute("COMMIT").await.expect("unlock");
    blocked.await.expect("waiter").expect("unblocked");
}
