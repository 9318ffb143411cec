//! The store behind a running finch loop while PostgreSQL restarts or stops: the
//! loop keeps ticking, the journal buffers, nothing is lost within its bound, and
//! what is dropped beyond it is counted. These tests stop the server, so they run
//! one at a time and always bring it back (`ServerUp`), even when they fail.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestDb, admin, url};
use finch_core::Config;
use finch_postgres::PgStore;
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

fn pg_ctl(action: &str) -> bool {
    Command::new("pg_ctlcluster")
        .args(["15", "main", action])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Starts PostgreSQL (if it is down) and waits for it when dropped.
struct ServerUp;

impl Drop for ServerUp {
    fn drop(&mut self) {
        if !pg_ctl("status") {
            pg_ctl("start");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = Command::new("pg_isready")
                .args(["-d", &url()])
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("PostgreSQL did not come back; start it with `pg_ctlcluster 15 main start`");
    }
}

fn start_loop(store: PgStore, instance: &str, capacity: usize) -> finch_core::Handle {
    finch_core::start(
        Config::default()
            .manual()
            .interval(Duration::from_millis(200))
            .process_signals(false)
            .knobs(Vec::<String>::new())
            .slos(Vec::<String>::new())
            .instance(instance)
            .journal_capacity(capacity)
            .store(store),
    )
    .expect("loop")
}

async fn stored_seqs(db: &TestDb, instance: &str) -> BTreeSet<i64> {
    db.client()
        .await
        .query(
            "SELECT seq FROM finch.observations WHERE instance = $1",
            &[&instance],
        )
        .await
        .expect("observations")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn tick_until_flushed(finch: &finch_core::Handle, ticks: &mut u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        finch.tick().await.expect("tick");
        *ticks += 1;
        if finch.status().knowledge.pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the journal never drained: {:?}",
            finch.status().knowledge
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_observation_is_lost_across_a_postgres_restart() {
    let _serial = SERIAL.lock().await;
    let _up = ServerUp;
    let db = TestDb::create("finch_pg_restart").await;
    let store = PgStore::connect(&db.url()).expect("store");
    store.migrate().await.expect("migrated");
    let finch = start_loop(store, "restart", 10_000);

    let mut ticks = 0u64;
    for _ in 0..5 {
        finch.tick().await.expect("tick");
        ticks += 1;
    }
    assert_eq!(finch.status().knowledge.pending, 0);

    let restart = tokio::task::spawn_blocking(|| pg_ctl("restart"));
    let mut max_pending = 0;
    let mut saw_error = false;
    while !restart.is_finished() {
        finch.tick().await.expect("the loop keeps running");
        ticks += 1;
        let k = finch.status().knowledge;
        max_pending = max_pending.max(k.pending);
        saw_error |= k.last_error.is_some();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        restart.await.expect("restart task"),
        "pg_ctlcluster restart failed"
    );
    tick_until_flushed(&finch, &mut ticks).await;
    let status = finch.status().knowledge;
    assert!(
        saw_error && max_pending > 0,
        "the outage was seen: {max_pending} pending at most"
    );
    assert_eq!(status.dropped, 0);
    finch.shutdown().await;

    let stored = stored_seqs(&db, "restart").await;
    let expected: BTreeSet<i64> = (1..=ticks as i64).collect();
    assert_eq!(
        stored, expected,
        "every observation of every tick is stored once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_journal_bound_the_oldest_are_dropped_and_counted() {
    let _serial = SERIAL.lock().await;
    let _up = ServerUp;
    let db = TestDb::create("finch_pg_bound").await;
    let store = PgStore::connect(&db.url()).expect("store");
    store.migrate().await.expect("migrated");
    const CAPACITY: usize = 5;
    let finch = start_loop(store, "bounded", CAPACITY);
    for _ in 0..3 {
        finch.tick().await.expect("tick");
    }

    assert!(pg_ctl("stop"), "pg_ctlcluster stop failed");
    for _ in 0..12 {
        finch
            .tick()
            .await
            .expect("the loop keeps running while PostgreSQL is down");
    }
    let down = finch.status().knowledge;
    assert_eq!(
        (down.pending, down.dropped),
        (CAPACITY, 12 - CAPACITY as u64)
    );
    assert!(down.last_error.is_some());
    assert!(pg_ctl("start"), "pg_ctlcluster start failed");
    drop(admin().await);

    let mut ticks = 15u64;
    tick_until_flushed(&finch, &mut ticks).await;
    // The first tick after the restart queues its observation before it writes:
    // one more overflow, so 8 dropped in all (windows 4 to 11).
    assert_eq!(finch.status().knowledge.dropped, 8);
    finch.shutdown().await;

    let stored = stored_seqs(&db, "bounded").await;
    let lost: BTreeSet<i64> = (4..=11).collect();
    let expected: BTreeSet<i64> = (1..=ticks as i64).filter(|s| !lost.contains(s)).collect();
    assert_eq!(
        stored, expected,
        "exactly the counted, oldest buffered observations are missing"
    );
}
