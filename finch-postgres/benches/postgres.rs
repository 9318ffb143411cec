//! Time to apply a setting of each context, and store write throughput, against
//! the PostgreSQL at `DATABASE_URL` (default the local superuser). Changes
//! `checkpoint_timeout` server-wide and resets it at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use finch_core::knowledge::{KnowledgeStore, Record};
use finch_core::monitor::Observation;
use finch_postgres::deadpool_postgres::{Manager, Pool};
use finch_postgres::tokio_postgres::{self, NoTls};
use finch_postgres::{PgStore, PgTuner, SessionSettings, Setting};

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&url(), NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is unreachable at {}: {e}", url()));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

fn pool(db: &str, sessions: Option<&SessionSettings>) -> Pool {
    let mut config: tokio_postgres::Config = url().parse().expect("DATABASE_URL");
    config.dbname(db);
    let builder = Pool::builder(Manager::new(config, NoTls)).max_size(8);
    let builder = match sessions {
        Some(s) => s.attach(builder),
        None => builder,
    };
    builder.build().expect("pool")
}

fn observation(seq: u64) -> Observation {
    Observation {
        instance: "bench".into(),
        seq,
        at_ms: seq,
        length_secs: 1.0,
        generation: 0,
        clean: true,
        knobs: (0..4).map(|i| (format!("knob{i}"), i as f64)).collect(),
        workload: BTreeMap::from([("api/rate".to_string(), 100.0)]),
        signals: (0..8).map(|i| (format!("pg.s{i}"), i as f64)).collect(),
        slis: BTreeMap::from([("api/p99".to_string(), 0.01)]),
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let db = format!("finch_pg_bench_{}", std::process::id());
    rt.block_on(async {
        admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("CREATE DATABASE");
    });
    let sessions = SessionSettings::new();
    let app = pool(&db, Some(&sessions));
    let tuner = rt.block_on(async {
        // Eight open connections, as a busy service would have.
        let held: Vec<_> = futures_all(&app, 8).await;
        drop(held);
        PgTuner::builder(app.clone())
            .sessions(sessions)
            .setting("work_mem", "1MB"..="256MB")
            .setting("log_min_duration_statement", -1..=10_000)
            .tune(Setting::new("checkpoint_timeout", "30s"..="1h"))
            .build()
            .await
            .expect("tuner")
    });

    let mut group = c.benchmark_group("apply");
    group.sample_size(30);
    let mut flip = false;
    for (name, context, a, b) in [
        ("work_mem", "user (8 pooled connections)", "8MB", "16MB"),
        (
            "log_min_duration_statement",
            "superuser (8 pooled connections)",
            "100",
            "200",
        ),
        (
            "checkpoint_timeout",
            "sighup (ALTER SYSTEM + reload + verify)",
            "6min",
            "7min",
        ),
    ] {
        group.bench_function(context, |bench| {
            bench.iter(|| {
                flip = !flip;
                rt.block_on(tuner.set(name, if flip { a } else { b }))
                    .expect("applied")
            })
        });
    }
    group.bench_function("postmaster (refused at build)", |bench| {
        bench.iter(|| {
            rt.block_on(
                PgTuner::builder(app.clone())
                    .setting("shared_buffers", "16MB"..="1GB")
                    .build(),
            )
            .expect_err("refused")
        })
    });
    group.finish();
    rt.block_on(tuner.restore()).expect("restored");

    let store = PgStore::new(pool(&db, None)).expect("store");
    rt.block_on(store.migrate()).expect("migrated");
    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    let mut seq = 0u64;
    for batch in [1usize, 64, 512] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("append {batch} observations"), |bench| {
            bench.iter_batched(
                || {
                    (0..batch)
                        .map(|_| {
                            seq += 1;
                            Record::Observation(observation(seq))
                        })
                        .collect::<Vec<_>>()
                },
                |records| rt.block_on(store.append(records)).expect("append"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    drop(store);
    app.close();
    rt.block_on(async {
        let admin = admin().await;
        admin
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .await
            .expect("DROP DATABASE");
    });
}

async fn futures_all(pool: &Pool, n: usize) -> Vec<finch_postgres::deadpool_postgres::Object> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.get().await.expect("connection"));
    }
    held
}

criterion_group! {
    name = postgres;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(postgres);
