//! [`PgStore`]: finch's knowledge in PostgreSQL, shared by the replicas of a service.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::{Manager, Pool, Transaction};
use finch_core::execute::Decision;
use finch_core::knowledge::{Knowledge, KnowledgeStore, ModelBlob, Numbering, Record};
use finch_core::monitor::Observation;
use finch_core::{BoxFuture, StoreError};
use tokio::sync::OnceCell;
use tokio_postgres::IsolationLevel;

use crate::error::PgError;
use crate::setting::plain_identifier;

/// Observations returned by one [`KnowledgeStore::shared_since`] call.
const SHARED_BATCH: i64 = 1000;

/// Each migration, in order; its position + 1 is its version. `{s}` is the schema.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "observations, decisions and models",
        "CREATE TABLE {s}.observations (
         pos      bigserial PRIMARY KEY,
         instance text    NOT NULL,
         seq      bigint  NOT NULL,
         at_ms    bigint  NOT NULL,
         clean    boolean NOT NULL,
         body     bytea   NOT NULL,
         UNIQUE (instance, seq));
     CREATE TABLE {s}.decisions (
         pos      bigserial PRIMARY KEY,
         instance text   NOT NULL,
         id       bigint NOT NULL,
         win      bigint NOT NULL,
         at_ms    bigint NOT NULL,
         kind     text   NOT NULL,
         outcome  text   NOT NULL,
         rank     int    NOT NULL,
         reason   text   NOT NULL,
         changes  text   NOT NULL,
         body     bytea  NOT NULL,
         UNIQUE (instance, id));
     CREATE TABLE {s}.models (
         instance text   PRIMARY KEY,
         at_ms    bigint NOT NULL,
         bytes    bytea  NOT NULL,
         saved_at timestamptz NOT NULL DEFAULT now());",
    ),
    (
        "per-instance numbering high-water marks, model checksums",
        "CREATE TABLE {s}.instances (
         instance      text   PRIMARY KEY,
         last_seq      bigint NOT NULL,
         last_decision bigint NOT NULL);
     INSERT INTO {s}.instances (instance, last_seq, last_decision)
     SELECT instance, max(seq), max(id) FROM (
         SELECT instance, seq, 0::bigint AS id FROM {s}.observations
         UNION ALL
         SELECT instance, 0::bigint, id FROM {s}.decisions) numbers
     GROUP BY instance;
     ALTER TABLE {s}.models ADD COLUMN crc bigint;",
    ),
];

/// The default bound on the rows of `observations` and of `decisions`.
pub const DEFAULT_MAX_ROWS: u64 = 1_000_000;
/// Models kept: those of the instances that saved most recently.
const KEPT_MODELS: i64 = 16;
/// Writes between two passes of retention.
const PRUNE_EVERY: u64 = 64;

/// finch's knowledge in PostgreSQL: observations, decisions and models in a
/// schema of their own (`finch` by default), shared by every instance of a
/// service that points at the same database.
///
/// - **Migrations** are versioned (`<schema>.migrations`), run once, under an
///   advisory lock (instances starting together do not race), on the first use.
/// - **Writes** are batched: one transaction and one `INSERT ... SELECT FROM
///   unnest(...)` per table per batch, idempotent (`ON CONFLICT`), so the loop's
///   retries after a timeout never duplicate a record.
/// - **Sharing**: observations are numbered in commit order (writers take a
///   transaction-level advisory lock), so [`KnowledgeStore::shared_since`] can
///   hand each instance every other instance's observations exactly once.
/// - **Outages**: when PostgreSQL is unreachable every call fails fast with an
///   error; the loop's journal keeps records in memory (up to
///   `Config::journal_capacity`, counting what it drops beyond) and writes them
///   when the server is back.
///
/// - **Numbering**: each instance's highest observation `seq` and decision
///   `id` are kept in `<schema>.instances`, so a restarted instance numbers on
///   after everything it wrote ([`KnowledgeStore::last_numbers`]), whatever
///   the other instances wrote since and whatever retention removed.
/// - **Retention**: `observations` and `decisions` keep their newest rows
///   within a bound ([`max_rows`](Self::max_rows), default
///   [`DEFAULT_MAX_ROWS`], about 1 GB of observations at their usual size
///   of 1 KB); `models` keeps the 16 most recently saved.
/// - **Damaged rows**: a row that does not decode (another finch version, a
///   manual edit) is skipped with a warning and counted
///   ([`skipped_rows`](Self::skipped_rows)); it never fails a load. Models
///   carry a CRC-32; a damaged one is skipped for the newest intact one.
///
/// Decisions are readable in SQL: `SELECT instance, id, kind, outcome, changes,
/// reason FROM finch.decisions ORDER BY pos`.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let store = finch_postgres::PgStore::connect("postgres://finch@127.0.0.1/app")?;
/// store.migrate().await?;
/// let config = finch_core::Config::default().instance("api-1").store(store);
/// # let _ = config;
/// # Ok(())
/// # }
/// ```
pub struct PgStore {
    pool: Pool,
    schema: String,
    lock_key: i64,
    migrated: OnceCell<()>,
    /// The last observation position `load` returned: `shared_since` starts after it.
    loaded: AtomicU64,
    max_rows: u64,
    writes: AtomicU64,
    skipped: AtomicU64,
}

impl PgStore {
    /// A store on its own small pool (4 connections) to `url`. Connects lazily.
    pub fn connect(url: &str) -> Result<Self, PgError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::new(config, tokio_postgres::NoTls);
        let pool = Pool::builder(manager)
            .max_size(4)
            .build()
            .map_err(|e| PgError::Task {
                reason: e.to_string(),
            })?;
        PgStore::new(pool)
    }

    /// A store on an existing pool, in schema `finch`.
    pub fn new(pool: Pool) -> Result<Self, PgError> {
        PgStore::with_schema(pool, "finch")
    }

    /// A store on an existing pool, in `schema` (lowercase letters, digits, `_`).
    pub fn with_schema(pool: Pool, schema: &str) -> Result<Self, PgError> {
        let quoted = plain_identifier("schema", schema)?;
        let lock_key = schema.bytes().fold(0x66_69_6e_63_68_i64, |h, b| {
            h.wrapping_mul(31).wrapping_add(i64::from(b))
        });
        Ok(PgStore {
            pool,
            schema: quoted,
            lock_key,
            migrated: OnceCell::new(),
            loaded: AtomicU64::new(0),
            max_rows: DEFAULT_MAX_ROWS,
            writes: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        })
    }

    /// Bounds `observations` and `decisions` to their newest `rows` rows each
    /// (default [`DEFAULT_MAX_ROWS`]); older rows are deleted every few writes.
    ///
    /// ```no_run
    /// let store = finch_postgres::PgStore::connect("postgres://finch@127.0.0.1/app")?
    ///     .max_rows(200_000);
    /// # let _ = store;
    /// # Ok::<(), finch_postgres::PgError>(())
    /// ```
    pub fn max_rows(mut self, rows: u64) -> Self {
        self.max_rows = rows;
        self
    }

    /// Rows skipped because they did not decode, since the store was created.
    ///
    /// ```no_run
    /// let store = finch_postgres::PgStore::connect("postgres://finch@127.0.0.1/app")?;
    /// assert_eq!(store.skipped_rows(), 0);
    /// # Ok::<(), finch_postgres::PgError>(())
    /// ```
    pub fn skipped_rows(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Decodes a row's body, or skips it with a warning and counts it.
    fn decode_or_skip<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        pos: i64,
        bytes: &[u8],
    ) -> Option<T> {
        match decode(what, bytes) {
            Ok(value) => Some(value),
            Err(e) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(schema = %self.schema, pos, error = %e, "finch: undecodable row skipped");
                None
            }
        }
    }

    /// The pool the store writes through.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs the migrations not yet applied (idempotent; also done on first use).
    /// Returns the schema version.
    pub async fn migrate(&self) -> Result<i32, PgError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&self.lock_key])
            .await?;
        let s = &self.schema;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.migrations (
                 version    int PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());"
        ))
        .await?;
        let row = tx
            .query_one(
                &format!("SELECT COALESCE(max(version), 0) FROM {s}.migrations"),
                &[],
            )
            .await?;
        let mut version: i32 = row.try_get(0)?;
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
            let v = i32::try_from(i + 1).unwrap_or(i32::MAX);
            if v <= version {
                continue;
            }
            tx.batch_execute(&sql.replace("{s}", s)).await?;
            tx.execute(
                &format!("INSERT INTO {s}.migrations (version, name) VALUES ($1, $2)"),
                &[&v, name],
            )
            .await?;
            version = v;
        }
        tx.commit().await?;
        Ok(version)
    }

    async fn ready(&self) -> Result<(), PgError> {
        self.migrated
            .get_or_try_init(|| async { self.migrate().await.map(drop) })
            .await
            .map(|_| ())
    }

    async fn write(&self, records: Vec<Record>) -> Result<(), PgError> {
        self.ready().await?;
        let mut observations = Vec::new();
        let mut decisions: BTreeMap<(String, u64), Decision> = BTreeMap::new();
        for r in records {
            match r {
                Record::Observation(o) => observations.push(o),
                Record::Decision(d) => {
                    let key = (d.instance.clone(), d.id);
                    match decisions.get(&key) {
                        Some(old) if rank(old) > rank(&d) => {}
                        _ => {
                            decisions.insert(key, d);
                        }
                    }
                }
            }
        }
        let mut marks: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for o in &observations {
            let m = marks.entry(o.instance.as_str()).or_default();
            m.0 = m.0.max(to_i64(o.seq));
        }
        for d in decisions.values() {
            let m = marks.entry(d.instance.as_str()).or_default();
            m.1 = m.1.max(to_i64(d.id));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        self.raise_marks(&tx, &marks).await?;
        if !observations.is_empty() {
            self.insert_observations(&tx, &observations).await?;
        }
        if !decisions.is_empty() {
            self.upsert_decisions(&tx, decisions.into_values().collect())
                .await?;
        }
        tx.commit().await?;
        if self
            .writes
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
            && let Err(e) = self.prune().await
        {
            tracing::warn!(schema = %self.schema, error = %finch_core::error::Chain(&e), "finch: knowledge retention failed; retried later");
        }
        Ok(())
    }

    /// Raises each instance's numbering high-water marks to the batch's.
    async fn raise_marks(
        &self,
        tx: &Transaction<'_>,
        marks: &BTreeMap<&str, (i64, i64)>,
    ) -> Result<(), PgError> {
        let instance: Vec<&str> = marks.keys().copied().collect();
        let seq: Vec<i64> = marks.values().map(|m| m.0).collect();
        let id: Vec<i64> = marks.values().map(|m| m.1).collect();
        let s = &self.schema;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO {s}.instances AS i (instance, last_seq, last_decision)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[])
                 ON CONFLICT (instance) DO UPDATE SET
                     last_seq = GREATEST(i.last_seq, excluded.last_seq),
                     last_decision = GREATEST(i.last_decision, excluded.last_decision)"
            ))
            .await?;
        tx.execute(&stmt, &[&instance, &seq, &id]).await?;
        Ok(())
    }

    /// Deletes the rows past the bound and the models of long-gone instances.
    async fn prune(&self) -> Result<(), PgError> {
        let client = self.pool.get().await?;
        let s = &self.schema;
        let rows = to_i64(self.max_rows);
        for table in ["observations", "decisions"] {
            client
                .execute(
                    &format!(
                        "DELETE FROM {s}.{table}
                         WHERE pos <= (SELECT max(pos) FROM {s}.{table}) - $1"
                    ),
                    &[&rows],
                )
                .await?;
        }
        client
            .execute(
                &format!(
                    "DELETE FROM {s}.models WHERE instance NOT IN
                         (SELECT instance FROM {s}.models ORDER BY at_ms DESC LIMIT $1)"
                ),
                &[&KEPT_MODELS],
            )
            .await?;
        Ok(())
    }

    async fn numbers(&self, instance: &str) -> Result<Numbering, PgError> {
        self.ready().await?;
        let client = self.pool.get().await?;
        let s = &self.schema;
        let row = client
            .query_opt(
                &format!("SELECT last_seq, last_decision FROM {s}.instances WHERE instance = $1"),
                &[&instance],
            )
            .await?;
        Ok(match row {
            Some(row) => Numbering {
                last_seq: from_i64(row.try_get(0)?),
                last_decision: from_i64(row.try_get(1)?),
            },
            None => Numbering::default(),
        })
    }

    async fn insert_observations(
        &self,
        tx: &Transaction<'_>,
        observations: &[Observation],
    ) -> Result<(), PgError> {
        let mut instance = Vec::with_capacity(observations.len());
        let mut seq = Vec::with_capacity(observations.len());
        let mut at = Vec::with_capacity(observations.len());
        let mut clean = Vec::with_capacity(observations.len());
        let mut body = Vec::with_capacity(observations.len());
        for o in observations {
            instance.push(o.instance.as_str());
            seq.push(to_i64(o.seq));
            at.push(to_i64(o.at_ms));
            clean.push(o.clean);
            body.push(encode(o)?);
        }
        // Numbering in commit order: see the type's documentation.
        tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&self.lock_key])
            .await?;
        let s = &self.schema;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO {s}.observations (instance, seq, at_ms, clean, body)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bool[], $5::bytea[])
                 ON CONFLICT (instance, seq) DO NOTHING"
            ))
            .await?;
        tx.execute(&stmt, &[&instance, &seq, &at, &clean, &body])
            .await?;
        Ok(())
    }

    async fn upsert_decisions(
        &self,
        tx: &Transaction<'_>,
        decisions: Vec<Decision>,
    ) -> Result<(), PgError> {
        let n = decisions.len();
        let (mut instance, mut id, mut win, mut at) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut kind, mut outcome, mut ranks, mut reason, mut changes, mut body) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for d in &decisions {
            instance.push(d.instance.as_str());
            id.push(to_i64(d.id));
            win.push(to_i64(d.window));
            at.push(to_i64(d.at_ms));
            kind.push(format!("{:?}", d.kind).to_lowercase());
            outcome.push(d.outcome_label());
            ranks.push(rank(d));
            reason.push(d.reason.as_str());
            changes.push(
                d.changes
                    .iter()
                    .map(|c| format!("{}: {} -> {}", c.knob, c.from, c.to))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            body.push(encode(d)?);
        }
        let s = &self.schema;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO {s}.decisions AS d
                     (instance, id, win, at_ms, kind, outcome, rank, reason, changes, body)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::text[],
                                      $6::text[], $7::int4[], $8::text[], $9::text[], $10::bytea[])
                 ON CONFLICT (instance, id) DO UPDATE SET
                     outcome = excluded.outcome, rank = excluded.rank, reason = excluded.reason,
                     changes = excluded.changes, body = excluded.body
                 WHERE excluded.rank >= d.rank"
            ))
            .await?;
        tx.execute(
            &stmt,
            &[
                &instance, &id, &win, &at, &kind, &outcome, &ranks, &reason, &changes, &body,
            ],
        )
        .await?;
        Ok(())
    }

    async fn save(&self, model: ModelBlob) -> Result<(), PgError> {
        self.ready().await?;
        let client = self.pool.get().await?;
        let s = &self.schema;
        client
            .execute(
                &format!(
                    "INSERT INTO {s}.models (instance, at_ms, bytes, crc) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (instance) DO UPDATE SET at_ms = excluded.at_ms,
                         bytes = excluded.bytes, crc = excluded.crc, saved_at = now()"
                ),
                &[
                    &model.instance,
                    &to_i64(model.at_ms),
                    &model.bytes,
                    &checksum(&model.bytes),
                ],
            )
            .await?;
        Ok(())
    }

    async fn read(&self, max: usize) -> Result<Knowledge, PgError> {
        self.ready().await?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let mut client = self.pool.get().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let s = &self.schema;
        let rows = tx
            .query(
                &format!(
                    "SELECT pos, body FROM (SELECT pos, body FROM {s}.observations
                     ORDER BY pos DESC LIMIT $1) o ORDER BY pos"
                ),
                &[&limit],
            )
            .await?;
        let last: i64 = tx
            .query_one(
                &format!("SELECT COALESCE(max(pos), 0) FROM {s}.observations"),
                &[],
            )
            .await?
            .try_get(0)?;
        let mut knowledge = Knowledge::default();
        for row in &rows {
            let pos = row.try_get(0)?;
            knowledge
                .observations
                .extend(self.decode_or_skip("observation", pos, row.try_get(1)?));
        }
        let rows = tx
            .query(
                &format!(
                    "SELECT pos, body FROM (SELECT pos, body FROM {s}.decisions
                     ORDER BY pos DESC LIMIT $1) d ORDER BY pos"
                ),
                &[&limit],
            )
            .await?;
        for row in &rows {
            let pos = row.try_get(0)?;
            knowledge
                .decisions
                .extend(self.decode_or_skip("decision", pos, row.try_get(1)?));
        }
        let models = tx
            .query(
                &format!(
                    "SELECT instance, at_ms, bytes, crc FROM {s}.models
                     ORDER BY at_ms DESC LIMIT $1"
                ),
                &[&KEPT_MODELS],
            )
            .await?;
        // The newest model whose checksum holds (models saved before
        // checksums were kept have none).
        for row in &models {
            let blob = ModelBlob {
                instance: row.try_get(0)?,
                at_ms: from_i64(row.try_get(1)?),
                bytes: row.try_get(2)?,
            };
            let crc: Option<i64> = row.try_get(3)?;
            if crc.is_none_or(|crc| crc == checksum(&blob.bytes)) {
                knowledge.model = Some(blob);
                break;
            }
            self.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(schema = %self.schema, instance = %blob.instance, "finch: damaged model skipped (bad checksum)");
        }
        tx.commit().await?;
        self.loaded.store(from_i64(last), Ordering::Release);
        Ok(knowledge)
    }

    async fn shared(
        &self,
        instance: &str,
        cursor: u64,
    ) -> Result<(Vec<Observation>, u64), PgError> {
        self.ready().await?;
        let start = if cursor == 0 {
            self.loaded.load(Ordering::Acquire)
        } else {
            cursor
        };
        let client = self.pool.get().await?;
        let s = &self.schema;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT pos, body FROM {s}.observations
                 WHERE pos > $1 AND instance <> $2 ORDER BY pos LIMIT $3"
            ))
            .await?;
        let rows = client
            .query(&stmt, &[&to_i64(start), &instance, &SHARED_BATCH])
            .await?;
        let mut next = start;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let pos = row.try_get(0)?;
            next = from_i64(pos);
            out.extend(self.decode_or_skip("observation", pos, row.try_get(1)?));
        }
        Ok((out, next))
    }
}

/// Later states of a decision outrank `pending`.
fn rank(d: &Decision) -> i32 {
    match d.outcome_label() {
        "pending" => 0,
        _ => 1,
    }
}

/// The CRC-32 of a model blob, as stored.
fn checksum(bytes: &[u8]) -> i64 {
    i64::from(crc32fast::hash(bytes))
}

fn to_i64(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

fn from_i64(x: i64) -> u64 {
    u64::try_from(x).unwrap_or(0)
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, PgError> {
    postcard::to_stdvec(value).map_err(|e| PgError::Decode {
        what: "record (while encoding)",
        reason: e.to_string(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, PgError> {
    postcard::from_bytes(bytes).map_err(|e| PgError::Decode {
        what,
        reason: e.to_string(),
    })
}

impl KnowledgeStore for PgStore {
    fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.write(records).await.map_err(StoreError::from) })
    }

    fn save_model(&self, model: ModelBlob) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.save(model).await.map_err(StoreError::from) })
    }

    fn load(&self, max_observations: usize) -> BoxFuture<'_, Result<Knowledge, StoreError>> {
        Box::pin(async move { self.read(max_observations).await.map_err(StoreError::from) })
    }

    /// This instance's high-water marks in `<schema>.instances`.
    fn last_numbers(&self, instance: &str) -> BoxFuture<'_, Result<Option<Numbering>, StoreError>> {
        let instance = instance.to_string();
        Box::pin(async move {
            self.numbers(&instance)
                .await
                .map(Some)
                .map_err(StoreError::from)
        })
    }

    /// Other instances' observations after `cursor` (a position in
    /// `observations.pos`), at most 1000 per call. Cursor 0 starts after what
    /// [`load`](KnowledgeStore::load) returned, so nothing is seen twice.
    fn shared_since(
        &self,
        instance: &str,
        cursor: u64,
    ) -> BoxFuture<'_, Result<(Vec<Observation>, u64), StoreError>> {
        let instance = instance.to_string();
        Box::pin(async move {
            self.shared(&instance, cursor)
                .await
                .map_err(StoreError::from)
        })
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}
