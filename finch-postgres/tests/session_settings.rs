//! Session settings on the application's pool, hostile input, and the pool-size knob.
//! Nothing here changes server-wide settings.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{TestDb, show};
use finch_core::{Config, knob_by_name};
use finch_postgres::deadpool_postgres::{Hook, Manager, Pool, Timeouts};
use finch_postgres::tokio_postgres::NoTls;
use finch_postgres::{PgError, PgTuner, SessionSettings, Setting};

/// Takes `n` distinct connections at once and returns (backend pid, SHOW work_mem) of each.
async fn every_connection(
    pool: &finch_postgres::deadpool_postgres::Pool,
    n: usize,
) -> Vec<(i32, String)> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.get().await.expect("connection"));
    }
    let mut out = Vec::new();
    for c in &held {
        let pid: i32 = c
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .expect("pid")
            .get(0);
        out.push((pid, show(c, "work_mem").await));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_setting_reaches_every_pooled_connection_and_is_restored() {
    let db = TestDb::create("finch_pg_sess").await;
    let sessions = SessionSettings::new();
    let pool = db.pool(4, Some(&sessions), None);
    let before = every_connection(&pool, 4).await;
    let default = before[0].1.clone();

    let tuner = PgTuner::builder(pool.clone())
        .sessions(sessions.clone())
        .prefix("sess1.")
        .setting("work_mem", "1MB"..="256MB")
        .build()
        .await
        .expect("tuner");

    let applied = tuner.set("work_mem", "64MB").await.expect("applied");
    assert_eq!(applied.value, "65536kB");
    assert_eq!(applied.source, "session");
    assert_eq!(
        applied.connections, 4,
        "every idle connection updated at once"
    );
    let now = every_connection(&pool, 4).await;
    let pids: BTreeSet<i32> = now.iter().map(|(p, _)| *p).collect();
    assert_eq!(pids.len(), 4, "four distinct backends");
    assert!(now.iter().all(|(_, v)| v == "64MB"), "{now:?}");
    assert_eq!(
        knob_by_name("sess1.work_mem")
            .expect("knob")
            .value()
            .to_string(),
        "65536"
    );

    // A connection busy during a change gets the new value at its next checkout.
    let busy = pool.get().await.expect("connection");
    tuner.set("work_mem", "32MB").await.expect("applied");
    assert_eq!(show(&busy, "work_mem").await, "64MB");
    drop(busy);
    let now = every_connection(&pool, 4).await;
    assert!(now.iter().all(|(_, v)| v == "32MB"), "{now:?}");

    // New connections (after the pool drops old ones) start with the value in force.
    pool.resize(0);
    pool.resize(4);
    let fresh = every_connection(&pool, 4).await;
    assert!(
        fresh.iter().all(|(p, v)| v == "32MB" && !pids.contains(p)),
        "{fresh:?}"
    );

    tuner.shutdown().await.expect("restored");
    let after = every_connection(&pool, 4).await;
    assert!(after.iter().all(|(_, v)| *v == default), "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_applies_a_setting_through_its_knob() {
    let db = TestDb::create("finch_pg_loop").await;
    let sessions = SessionSettings::new();
    let pool = db.pool(3, Some(&sessions), None);
    let tuner = PgTuner::builder(pool.clone())
        .sessions(sessions)
        .prefix("loop1.")
        .tune(Setting::new("random_page_cost", 1.0..=4.0))
        .setting("work_mem", "1MB"..="64MB")
        .build()
        .await
        .expect("tuner");
    let knob = knob_by_name("loop1.work_mem").expect("knob");
    assert!(knob.is_log(), "memory sizes are searched on a log scale");
    assert_eq!(knob.cost(), 1.0);
    let (min, max) = knob.bounds();
    assert_eq!(
        (min.to_string(), max.to_string()),
        ("1024".into(), "65536".into())
    );

    let finch = finch_core::start(
        Config::default()
            .manual()
            .process_signals(false)
            .knobs(tuner.knobs())
            .slos(Vec::<String>::new()),
    )
    .expect("loop");
    let decision = finch.pin("loop1.work_mem", "16384").await.expect("pinned");
    assert_eq!(decision.changes[0].to, "16384");
    finch
        .pin("loop1.random_page_cost", "1.5")
        .await
        .expect("pinned");
    let c = pool.get().await.expect("connection");
    assert_eq!(show(&c, "work_mem").await, "16MB");
    assert_eq!(show(&c, "random_page_cost").await, "1.5");
    drop(c);
    finch.shutdown().await;
    tuner.shutdown().await.expect("restored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_values_are_refused_and_never_reach_sql() {
    let db = TestDb::create("finch_pg_hostile").await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE canary (x int)")
        .await
        .expect("canary");
    let sessions = SessionSettings::new();
    let pool = db.pool(2, Some(&sessions), None);
    let build = |name: &str, lo: &str, hi: &str| {
        PgTuner::builder(pool.clone())
            .sessions(sessions.clone())
            .prefix("hostile.")
            .setting(name.to_string(), lo..=hi)
            .build()
    };

    for name in [
        "work_mem; DROP TABLE canary; --",
        "work_mem\" = 1; DROP TABLE canary; --",
        "work_mem' OR '1'='1",
        "",
    ] {
        match build(name, "1MB", "8MB").await {
            Err(PgError::UnknownSetting { .. }) => {}
            other => panic!("{name:?}: expected UnknownSetting, got {other:?}"),
        }
    }
    for (lo, hi) in [
        ("1MB'; DROP TABLE canary; --", "8MB"),
        ("1MB", "8 XB"),
        ("NaN", "8MB"),
        ("1e999", "8MB"),
    ] {
        assert!(
            matches!(
                build("work_mem", lo, hi).await,
                Err(PgError::InvalidValue { .. })
            ),
            "{lo}..={hi}"
        );
    }
    let outside = build("work_mem", "1kB", "8MB").await;
    match outside {
        Err(e @ PgError::InvalidBounds { .. }) => {
            assert!(e.to_string().contains("server allows"), "{e}")
        }
        other => panic!("expected InvalidBounds, got {other:?}"),
    }
    match build("search_path", "a", "b").await {
        Err(e @ PgError::UnsupportedType { .. }) => assert!(e.to_string().contains("string")),
        other => panic!("expected UnsupportedType, got {other:?}"),
    }

    let tuner = build("work_mem", "1MB", "8MB").await.expect("tuner");
    assert!(matches!(
        tuner.set("work_mem", "2MB'; DROP TABLE canary; --").await,
        Err(PgError::InvalidValue { .. })
    ));
    assert!(matches!(
        tuner.set("work_mem", "1GB").await,
        Err(PgError::Knob(_))
    ));
    assert!(matches!(
        tuner.set("shared_buffers", "1GB").await,
        Err(PgError::NotManaged { .. })
    ));
    let c = pool.get().await.expect("connection");
    assert_eq!(show(&c, "work_mem").await, "4MB", "nothing was applied");
    client
        .query_one("SELECT count(*) FROM canary", &[])
        .await
        .expect("the canary table survived");
    drop(c);
    tuner.shutdown().await.expect("nothing to restore");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_settings_need_the_pool_hooks() {
    let db = TestDb::create("finch_pg_nohooks").await;
    let pool = db.pool(2, None, None);
    let err = PgTuner::builder(pool)
        .prefix("nohooks.")
        .setting("work_mem", "1MB"..="8MB")
        .build()
        .await
        .expect_err("refused");
    assert!(matches!(err, PgError::NoSessionHooks { .. }));
    assert!(err.to_string().contains("SessionSettings::attach"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growing_the_pool_prewarms_connections_and_shrinking_drops_idle_ones() {
    let db = TestDb::create("finch_pg_poolsize").await;
    let sessions = SessionSettings::new();
    let pool = db.pool(2, Some(&sessions), None);
    let tuner = PgTuner::builder(pool.clone())
        .sessions(sessions)
        .prefix("poolsize.")
        .setting("work_mem", "1MB"..="64MB")
        .pool_size(1..=16)
        .build()
        .await
        .expect("tuner");
    assert_eq!(tuner.pool_knob().expect("pool knob").get(), 2);
    tuner.set("work_mem", "8MB").await.expect("applied");

    // The pool grows under load: its two connections are busy.
    let busy = [
        pool.get().await.expect("busy"),
        pool.get().await.expect("busy"),
    ];
    let grown = tuner.resize_pool(6).await.expect("grown");
    assert_eq!((grown.from, grown.to, grown.warmed), (2, 6, 4));
    let status = pool.status();
    assert_eq!((status.max_size, status.size, status.available), (6, 6, 4));
    drop(busy);
    let all = every_connection(&pool, 6).await;
    assert!(
        all.iter().all(|(_, v)| v == "8MB"),
        "pre-warmed connections got the session settings: {all:?}"
    );

    let shrunk = tuner.resize_pool(3).await.expect("shrunk");
    assert_eq!((shrunk.from, shrunk.to, shrunk.warmed), (6, 3, 0));
    let status = pool.status();
    assert_eq!((status.max_size, status.size), (3, 3));
    assert!(
        tuner.resize_pool(17).await.is_err(),
        "outside the knob's bounds"
    );

    tuner.shutdown().await.expect("restored");
    assert_eq!(pool.status().max_size, 2, "the original size is restored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_grows_and_a_setting_applies_while_every_connection_is_checked_out() {
    let db = TestDb::create("finch_pg_busy").await;
    let sessions = SessionSettings::new();
    let pool = db.pool(2, Some(&sessions), None);
    let tuner = PgTuner::builder(pool.clone())
        .sessions(sessions)
        .prefix("busy.")
        .setting("work_mem", "1MB"..="64MB")
        .pool_size(1..=8)
        .build()
        .await
        .expect("tuner");
    let busy = [
        pool.get().await.expect("busy"),
        pool.get().await.expect("busy"),
    ];
    assert_eq!(pool.status().available, 0, "the pool is exhausted");

    // One decision changes both, as the loop runs appliers: concurrently.
    let both = async { tokio::join!(tuner.set("work_mem", "8MB"), tuner.resize_pool(4)) };
    let (set, grown) = tokio::time::timeout(Duration::from_secs(60), both)
        .await
        .expect("neither applier waits for a pooled connection");
    let applied = set.expect("work_mem applied with every pooled connection busy");
    assert_eq!(
        (applied.value.as_str(), applied.source.as_str()),
        ("8192kB", "session")
    );
    let grown = grown.expect("the pool grew with every connection busy");
    assert_eq!((grown.from, grown.to, grown.warmed), (2, 4, 2));
    let mut now_free = pool.timeouts();
    now_free.wait = Some(Duration::ZERO);
    let fresh = pool
        .timeout_get(&now_free)
        .await
        .expect("a new connection is ready");
    assert_eq!(show(&fresh, "work_mem").await, "8MB");
    drop((fresh, busy));
    let all = every_connection(&pool, 4).await;
    assert!(all.iter().all(|(_, v)| v == "8MB"), "{all:?}");
    tuner.shutdown().await.expect("restored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growing_the_pool_leaves_the_idle_connections_to_the_service() {
    let db = TestDb::create("finch_pg_warmidle").await;
    // Opening a connection waits at this gate while it is closed.
    let gated = Arc::new(AtomicBool::new(false));
    let opening = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let hook = {
        let (gated, opening, gate) = (gated.clone(), opening.clone(), gate.clone());
        Hook::async_fn(move |_, _| {
            let (gated, opening, gate) = (gated.clone(), opening.clone(), gate.clone());
            Box::pin(async move {
                if gated.load(Ordering::Acquire) {
                    opening.fetch_add(1, Ordering::AcqRel);
                    if let Ok(permit) = gate.acquire().await {
                        permit.forget();
                    }
                }
                Ok(())
            })
        })
    };
    let pool = Pool::builder(Manager::new(db.config(), NoTls))
        .max_size(1)
        .post_create(hook)
        .build()
        .expect("pool");
    let tuner = PgTuner::builder(pool.clone())
        .prefix("warmidle.")
        .pool_size(1..=8)
        .build()
        .await
        .expect("tuner");
    assert_eq!((pool.status().size, pool.status().available), (1, 1));

    gated.store(true, Ordering::Release);
    let growing = tokio::spawn({
        let tuner = tuner.clone();
        async move { tuner.resize_pool(3).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while opening.load(Ordering::Acquire) == 0
        && !growing.is_finished()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        pool.status().available,
        1,
        "the idle connection stays with the service while the pool grows"
    );
    let mut now_free = Timeouts::new();
    now_free.wait = Some(Duration::ZERO);
    let served = pool
        .timeout_get(&now_free)
        .await
        .expect("the service gets it");

    gated.store(false, Ordering::Release);
    gate.add_permits(8);
    let grown = growing.await.expect("task").expect("grown");
    assert_eq!(
        (grown.from, grown.to, grown.warmed),
        (1, 3, 0),
        "nothing to warm while a connection is idle"
    );
    drop(served);
    tuner.shutdown().await.expect("restored");
}
