//! Server-wide settings (ALTER SYSTEM + reload), their one owner among
//! instances and its restore after a crash, restart-only settings, masking by
//! per-role settings, and a least-privilege role. Every test here changes
//! server-wide state, so they run one at a time (`SERIAL`) and restore
//! postgresql.auto.conf on the way out, even when they fail.

mod common;

use std::time::{Duration, Instant};

use common::{TestDb, admin, connect, show, unique};
use finch_core::knob_by_name;
use finch_core::knowledge::KnowledgeStore;
use finch_postgres::{Ownership, PgError, PgSignals, PgStore, PgTuner, SessionSettings, Setting};
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// Settings this file may change server-wide.
const TOUCHED: &[&str] = &["checkpoint_timeout", "work_mem", "autovacuum_naptime"];

/// Puts postgresql.auto.conf back as it was for `TOUCHED` when dropped.
struct AutoConf {
    before: Vec<(String, Option<String>)>,
}

impl AutoConf {
    async fn save() -> AutoConf {
        let admin = admin().await;
        let mut before = Vec::new();
        for name in TOUCHED {
            let row = admin
                .query_opt(
                    "SELECT setting FROM pg_file_settings \
                     WHERE name = $1 AND sourcefile LIKE '%postgresql.auto.conf'",
                    &[name],
                )
                .await
                .expect("pg_file_settings");
            before.push((name.to_string(), row.map(|r| r.get(0))));
        }
        AutoConf { before }
    }
}

impl Drop for AutoConf {
    fn drop(&mut self) {
        // One statement per query: ALTER SYSTEM cannot run in a (implicit) transaction block.
        let mut sql = Vec::new();
        for (name, value) in &self.before {
            match value {
                Some(v) => sql.push(format!("ALTER SYSTEM SET {name} = '{v}'")),
                None => sql.push(format!("ALTER SYSTEM RESET {name}")),
            }
        }
        sql.push("SELECT pg_reload_conf()".to_string());
        let restored = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let admin = admin().await;
                for statement in &sql {
                    admin.batch_execute(statement).await?;
                }
                Ok::<(), finch_postgres::tokio_postgres::Error>(())
            })
        })
        .join();
        assert!(
            matches!(restored, Ok(Ok(()))),
            "postgresql.auto.conf not restored"
        );
    }
}

async fn wait_for(
    client: &finch_postgres::tokio_postgres::Client,
    name: &str,
    want: &str,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let got = show(client, name).await;
        if got == want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_setting_takes_effect_on_open_sessions_and_is_restored() {
    let _serial = SERIAL.lock().await;
    let _conf = AutoConf::save().await;
    let db = TestDb::create("finch_pg_sighup").await;
    let other = db.client().await;
    let original = show(&other, "checkpoint_timeout").await;
    let pool = db.pool(2, None, None);

    let tuner = PgTuner::builder(pool)
        .prefix("sighup.")
        .tune(Setting::new("checkpoint_timeout", "30s"..="1h"))
        .build()
        .await
        .expect("tuner");
    let status = &tuner.status()[0];
    assert_eq!(status.scope, finch_postgres::Scope::System);
    assert_eq!(status.context, "sighup");

    let applied = tuner
        .set("checkpoint_timeout", "7min")
        .await
        .expect("applied");
    assert_eq!(applied.value, "420s");
    assert_eq!(applied.source, "configuration file");
    assert_eq!(
        wait_for(&other, "checkpoint_timeout", "7min").await,
        "7min",
        "an open session sees it"
    );
    let fresh = db.client().await;
    assert_eq!(show(&fresh, "checkpoint_timeout").await, "7min");

    tuner.shutdown().await.expect("restored");
    assert_eq!(
        wait_for(&other, "checkpoint_timeout", &original).await,
        original
    );
    let left = admin()
        .await
        .query_opt(
            "SELECT setting FROM pg_file_settings \
             WHERE name = 'checkpoint_timeout' AND sourcefile LIKE '%postgresql.auto.conf'",
            &[],
        )
        .await
        .expect("pg_file_settings");
    assert_eq!(
        left.map(|r| r.get::<_, String>(0)),
        _conf.before[0].1.clone(),
        "ALTER SYSTEM state is back to what it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postmaster_setting_is_refused_with_advice() {
    let _serial = SERIAL.lock().await;
    let db = TestDb::create("finch_pg_postmaster").await;
    let pool = db.pool(1, None, None);
    for name in ["shared_buffers", "max_connections"] {
        let err = PgTuner::builder(pool.clone())
            .prefix("postmaster.")
            .setting(name, 10..=1000)
            .build()
            .await
            .expect_err("refused");
        match &err {
            PgError::RequiresRestart { context, .. } => assert_eq!(context, "postmaster"),
            other => panic!("expected RequiresRestart, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("restart") && msg.contains(name), "{msg}");
    }
    let tuner = PgTuner::builder(pool).build().await.expect("empty tuner");
    let pending = tuner.pending_restart().await.expect("pending_restart");
    assert!(pending.iter().all(|n| !n.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_role_setting_masking_alter_system_is_reported() {
    let _serial = SERIAL.lock().await;
    let _conf = AutoConf::save().await;
    let db = TestDb::create("finch_pg_masked").await;
    let role = unique("finch_masked");
    let admin = admin().await;
    let admin_db = db.client().await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT ALTER SYSTEM ON PARAMETER work_mem TO {role};
             GRANT CREATE ON DATABASE \"{}\" TO {role};
             ALTER ROLE {role} SET work_mem = '3MB';",
            db.name
        ))
        .await
        .expect("role");
    admin_db
        .batch_execute(&format!(
            "GRANT EXECUTE ON FUNCTION pg_reload_conf() TO {role}"
        ))
        .await
        .expect("grant");

    let pool = db.pool(2, None, Some(&role));
    let result = async {
        let tuner = PgTuner::builder(pool.clone())
            .prefix("masked.")
            .tune(Setting::new("work_mem", "1MB"..="64MB").system())
            .build()
            .await
            .expect("tuner");
        assert_eq!(
            tuner.status()[0].masked_by.as_deref(),
            Some("user"),
            "reported at start"
        );
        let err = tuner.set("work_mem", "8MB").await.expect_err("masked");
        match &err {
            PgError::Masked {
                source_name,
                in_force,
                ..
            } => {
                assert_eq!(source_name, "user");
                assert_eq!(in_force, "3072kB");
            }
            other => panic!("expected Masked, got {other:?}"),
        }
        assert!(
            err.to_string()
                .contains(&format!("ALTER ROLE \"{role}\" RESET work_mem")),
            "{err}"
        );
        let status = &tuner.status()[0];
        assert_eq!(status.masked_by.as_deref(), Some("user"));
        assert!(status.changed);
        let c = pool.get().await.expect("connection");
        assert_eq!(show(&c, "work_mem").await, "3MB", "the role's setting wins");
        drop(c);
        tuner.shutdown().await.expect("restored");
    }
    .await;
    pool.close();
    drop(admin_db);
    admin
        .batch_execute(&format!(
            "REVOKE ALTER SYSTEM ON PARAMETER work_mem FROM {role};"
        ))
        .await
        .expect("revoke");
    drop(db);
    admin
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .expect("drop role");
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_least_privilege_role_tunes_reads_and_stores_without_superuser() {
    let _serial = SERIAL.lock().await;
    let _conf = AutoConf::save().await;
    let db = TestDb::create("finch_pg_leastpriv").await;
    let role = unique("finch_app");
    let admin = admin().await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
             GRANT ALTER SYSTEM ON PARAMETER checkpoint_timeout TO {role};
             GRANT pg_monitor TO {role};
             GRANT CREATE ON DATABASE \"{}\" TO {role};",
            db.name
        ))
        .await
        .expect("role");
    let admin_db = db.client().await;
    admin_db
        .batch_execute(&format!(
            "GRANT EXECUTE ON FUNCTION pg_reload_conf() TO {role}"
        ))
        .await
        .expect("grant");

    let sessions = SessionSettings::new();
    let pool = db.pool(2, Some(&sessions), Some(&role));
    let app = connect(&db.config_as(Some(&role))).await;
    let superuser: bool = app
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .expect("rolsuper")
        .get(0);
    assert!(!superuser);

    let outcome = async {
        let tuner = PgTuner::builder(pool.clone())
            .sessions(sessions.clone())
            .prefix("leastpriv.")
            .setting("work_mem", "1MB"..="64MB")
            .setting("checkpoint_timeout", "30s"..="1h")
            .build()
            .await
            .expect("tuner as a least-privilege role");
        tuner
            .set("work_mem", "16MB")
            .await
            .expect("session setting");
        tuner
            .set("checkpoint_timeout", "9min")
            .await
            .expect("ALTER SYSTEM with a grant");
        assert_eq!(wait_for(&app, "checkpoint_timeout", "9min").await, "9min");

        let missing = PgTuner::builder(pool.clone())
            .prefix("leastpriv2.")
            .setting("autovacuum_naptime", "10s"..="5min")
            .build()
            .await
            .expect_err("no grant for this parameter");
        assert!(matches!(missing, PgError::NotPermitted { .. }));
        assert!(
            missing
                .to_string()
                .contains("GRANT ALTER SYSTEM ON PARAMETER autovacuum_naptime"),
            "{missing}"
        );
        let su = PgTuner::builder(pool.clone())
            .sessions(sessions.clone())
            .prefix("leastpriv3.")
            .setting("log_min_duration_statement", -1..=10_000)
            .build()
            .await
            .expect_err("superuser-context setting without a grant");
        assert!(
            su.to_string()
                .contains("GRANT SET ON PARAMETER log_min_duration_statement"),
            "{su}"
        );

        let signals = PgSignals::new(pool.clone());
        let sampled = signals.sample_now().await.expect("signals with pg_monitor");
        assert!(sampled.iter().any(|s| s.name == "active"));
        let store = PgStore::new(pool.clone()).expect("store");
        assert_eq!(
            store.migrate().await.expect("migrations as the app role"),
            2
        );
        store.load(10).await.expect("load");
        tuner.shutdown().await.expect("restored");
    }
    .await;
    drop(app);
    pool.close();
    drop(admin_db);
    admin
        .batch_execute(&format!(
            "REVOKE ALTER SYSTEM ON PARAMETER checkpoint_timeout FROM {role};"
        ))
        .await
        .expect("revoke");
    drop(db);
    admin
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .expect("drop role");
    outcome
}

/// The `ALTER SYSTEM` entry of `name` in postgresql.auto.conf, if any.
async fn auto_conf(name: &str) -> Option<String> {
    admin()
        .await
        .query_opt(
            "SELECT setting FROM pg_file_settings \
             WHERE name = $1 AND sourcefile LIKE '%postgresql.auto.conf'",
            &[&name],
        )
        .await
        .expect("pg_file_settings")
        .map(|r| r.get(0))
}

/// A tuner of `checkpoint_timeout` on its own pool, claiming only when told.
async fn checkpoint_tuner(db: &TestDb, prefix: &str) -> PgTuner {
    PgTuner::builder(db.pool(1, None, None))
        .prefix(prefix)
        .tune(Setting::new("checkpoint_timeout", "30s"..="1h"))
        .ownership_interval(Duration::from_secs(3600))
        .build()
        .await
        .expect("tuner")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_wide_setting_has_one_owner_and_only_the_owner_restores_it() {
    let _serial = SERIAL.lock().await;
    let conf = AutoConf::save().await;
    let db = TestDb::create("finch_pg_owner").await;
    let other = db.client().await;
    let original = show(&other, "checkpoint_timeout").await;

    let a = checkpoint_tuner(&db, "owner_a.").await;
    let b = checkpoint_tuner(&db, "owner_b.").await;
    assert_eq!(a.status()[0].ownership, Ownership::Owned);
    let b_status = &b.status()[0];
    assert!(
        matches!(b_status.ownership, Ownership::Elsewhere { pid: Some(_) }),
        "{b_status:?}"
    );
    let held = knob_by_name("owner_b.checkpoint_timeout").expect("knob");
    assert!(
        held.is_pinned(),
        "the loop leaves a setting owned elsewhere alone"
    );
    assert!(
        held.held_by()
            .is_some_and(|by| by.contains("another finch instance")),
        "{:?}",
        held.held_by()
    );
    assert!(
        knob_by_name("owner_a.checkpoint_timeout")
            .expect("knob")
            .held_by()
            .is_none()
    );

    let refused = b
        .set("checkpoint_timeout", "9min")
        .await
        .expect_err("not the owner");
    assert!(matches!(refused, PgError::NotOwner { .. }), "{refused:?}");
    assert!(refused.to_string().contains("stop the owner"), "{refused}");
    assert_eq!(auto_conf("checkpoint_timeout").await, conf.before[0].1);
    assert!(
        b.status()[0].last_error.is_none(),
        "no error reported for it"
    );

    a.set("checkpoint_timeout", "7min")
        .await
        .expect("owner applies");
    assert_eq!(wait_for(&other, "checkpoint_timeout", "7min").await, "7min");
    b.claim_ownership().await.expect("claim");
    assert_eq!(
        held.value().as_f64(),
        420.0,
        "the follower reads the owner's value"
    );
    assert_eq!(b.status()[0].in_force.as_deref(), Some("420s"));

    b.shutdown().await.expect("nothing to restore");
    assert_eq!(
        auto_conf("checkpoint_timeout").await.as_deref(),
        Some("420"),
        "a follower's shutdown leaves the owner's value"
    );
    a.shutdown().await.expect("the owner restores");
    assert_eq!(auto_conf("checkpoint_timeout").await, conf.before[0].1);
    assert_eq!(
        wait_for(&other, "checkpoint_timeout", &original).await,
        original
    );

    let next = checkpoint_tuner(&db, "owner_c.").await;
    assert_eq!(
        next.status()[0].ownership,
        Ownership::Owned,
        "the owner let go on shutdown"
    );
    next.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_restarted_after_a_crash_restores_the_real_original() {
    let _serial = SERIAL.lock().await;
    let conf = AutoConf::save().await;
    let db = TestDb::create("finch_pg_crash").await;
    let other = db.client().await;
    let original = show(&other, "checkpoint_timeout").await;

    let crashed = checkpoint_tuner(&db, "crash_a.").await;
    crashed
        .set("checkpoint_timeout", "7min")
        .await
        .expect("applied");
    // A crash: no restore; the session holding the lock ends with the process.
    drop(crashed);
    assert_eq!(
        auto_conf("checkpoint_timeout").await.as_deref(),
        Some("420")
    );

    let restarted = checkpoint_tuner(&db, "crash_b.").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while restarted.status()[0].ownership != Ownership::Owned && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        restarted.claim_ownership().await.expect("claim");
    }
    let status = &restarted.status()[0];
    assert_eq!(status.ownership, Ownership::Owned, "{status:?}");
    assert!(status.changed, "the setting is not at its original");

    restarted.shutdown().await.expect("restored");
    assert_eq!(
        auto_conf("checkpoint_timeout").await,
        conf.before[0].1,
        "the original, not the 7min the crash left"
    );
    assert_eq!(
        wait_for(&other, "checkpoint_timeout", &original).await,
        original
    );
    let records: i64 = other
        .query_one("SELECT count(*) FROM finch.system_originals", &[])
        .await
        .expect("records")
        .get(0);
    assert_eq!(records, 0, "the record goes once the original is back");
}
