//! Helpers shared by the integration tests: each test gets its own database.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use finch_core::execute::{Change, Decision, DecisionKind, DecisionOutcome, Verdict};
use finch_core::monitor::Observation;
use finch_postgres::SessionSettings;
use finch_postgres::deadpool_postgres::{Manager, Pool};
use finch_postgres::tokio_postgres::{self, Client, NoTls};

/// The server under test (`DATABASE_URL`, default the local superuser).
pub fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A connection to `config`, failing loudly when PostgreSQL is unreachable.
pub async fn connect(config: &tokio_postgres::Config) -> Client {
    let (client, conn) = match config.connect(NoTls).await {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL is unreachable at {config:?}: {e}. These tests need a real server; \
             set DATABASE_URL"
        ),
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A connection to the server's maintenance database as the test superuser.
pub async fn admin() -> Client {
    connect(
        &url()
            .parse()
            .expect("DATABASE_URL is a valid connection string"),
    )
    .await
}

/// A database created for one test, dropped when this value is dropped.
pub struct TestDb {
    pub name: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A unique name with a prefix (for databases and roles).
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDb {
    pub async fn create(prefix: &str) -> TestDb {
        let name = unique(prefix);
        admin()
            .await
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("CREATE DATABASE");
        TestDb { name }
    }

    /// The connection settings for this database, as `user`.
    pub fn config_as(&self, user: Option<&str>) -> tokio_postgres::Config {
        let mut config: tokio_postgres::Config = url().parse().expect("valid DATABASE_URL");
        config.dbname(&self.name);
        if let Some(u) = user {
            config.user(u);
        }
        config
    }

    pub fn config(&self) -> tokio_postgres::Config {
        self.config_as(None)
    }

    pub fn url(&self) -> String {
        let base = url();
        match base.rfind('/') {
            Some(i) if !base[..i].ends_with('/') => format!("{}/{}", &base[..i], self.name),
            _ => format!("{base}/{}", self.name),
        }
    }

    pub async fn client(&self) -> Client {
        connect(&self.config()).await
    }

    /// A pool of `max` connections, with finch's session hooks when given.
    pub fn pool(&self, max: usize, sessions: Option<&SessionSettings>, user: Option<&str>) -> Pool {
        let builder = Pool::builder(Manager::new(self.config_as(user), NoTls)).max_size(max);
        let builder = match sessions {
            Some(s) => s.attach(builder),
            None => builder,
        };
        builder.build().expect("pool")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                admin()
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Reads `SHOW name` on a client.
pub async fn show(client: &Client, name: &str) -> String {
    client
        .query_one(&format!("SHOW {name}"), &[])
        .await
        .expect("SHOW")
        .get(0)
}

/// An observation of `instance` numbered `seq`.
pub fn observation(instance: &str, seq: u64) -> Observation {
    Observation {
        instance: instance.to_string(),
        seq,
        at_ms: 1_700_000_000_000 + seq,
        length_secs: 1.0,
        generation: seq,
        clean: seq.is_multiple_of(2),
        knobs: BTreeMap::from([("pg.work_mem".to_string(), 4096.0 + seq as f64)]),
        workload: BTreeMap::from([("api/rate".to_string(), 100.0)]),
        signals: BTreeMap::from([("pg.hit_ratio".to_string(), 0.99)]),
        slis: BTreeMap::from([("api/p99".to_string(), 0.012)]),
    }
}

/// A decision of `instance` numbered `id`.
pub fn decision(instance: &str, id: u64, outcome: DecisionOutcome) -> Decision {
    Decision {
        id,
        instance: instance.to_string(),
        window: id * 3,
        at_ms: 1_700_000_000_000,
        kind: DecisionKind::Exploit,
        changes: vec![Change {
            knob: "pg.work_mem".into(),
            from: "4096".into(),
            to: "8192".into(),
            probed: true,
        }],
        reason: "p99 near its bound; more work_mem is predicted to avoid temp files".into(),
        measured_before: BTreeMap::from([("api/p99".to_string(), 0.045)]),
        predicted_before: BTreeMap::new(),
        predicted_after: BTreeMap::from([("api/p99".to_string(), 0.030)]),
        cost_before: 1.0,
        cost_after: 1.2,
        outcome,
        verdict: Some(Verdict::Improved),
    }
}
