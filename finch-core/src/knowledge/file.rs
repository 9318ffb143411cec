//! A store in a directory that survives restarts: an append-only log of framed
//! records and the latest model beside it, under an exclusive lock.
//!
//! Each record is framed as `length (u32 LE) | CRC-32 of the payload (u32 LE) |
//! payload (postcard)`. A frame that is incomplete or fails its checksum (a
//! write torn by a crash or a full disk) is skipped: reading goes on at the
//! next intact frame, so a torn record never costs the records after it. When
//! the store opens a damaged log it rewrites it with the intact frames only,
//! and a write that fails is cut off again before the next one.
//!
//! The log is bounded in bytes ([`FileStore::max_log_bytes`], default
//! [`DEFAULT_MAX_LOG_BYTES`]): past the bound it is compacted to the newest
//! records filling half of it. The model is written with a checksum to a
//! temporary file, made durable, renamed over the old one, and the directory
//! is synced so the rename survives a crash too.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Knowledge, KnowledgeStore, ModelBlob, Record, latest_decisions};
use crate::error::StoreError;
use crate::util::BoxFuture;

const LOG: &str = "journal.log";
const MODEL: &str = "model.bin";
const LOCK: &str = "finch.lock";
const HEADER: usize = 8;
/// A frame claiming more than this is treated as torn.
const MAX_FRAME: usize = 64 << 20;
/// Past a damaged frame, only frames up to this size are looked for (records
/// are about a kilobyte): a checksum over random lengths would make a
/// search through a long damaged stretch slow.
const RESYNC_MAX_FRAME: usize = 1 << 20;
/// The model file starts with this, then the CRC-32 of the rest (u32 LE).
const MODEL_MAGIC: &[u8; 8] = b"finchMD1";

/// The default bound on the knowledge log: 256 MiB, about 20 hours of a
/// service with a dozen knobs, signals and SLIs at the default interval.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 256 << 20;

/// Keeps knowledge in a directory so a restarted service starts warm.
///
/// One process at a time: the store locks the directory while it is open,
/// and opening a directory another process (or another store) holds fails
/// with an error that says so.
///
/// ```no_run
/// let store = finch_core::knowledge::FileStore::open("/var/lib/myservice/finch")?
///     .max_log_bytes(64 << 20);
/// let config = finch_core::Config::default().store(store);
/// # let _ = config;
/// # Ok::<(), finch_core::StoreError>(())
/// ```
pub struct FileStore {
    dir: PathBuf,
    max_log_bytes: u64,
    log: Arc<Mutex<Log>>,
}

/// The open log. Shared with the writes in flight, so the directory lock is
/// held until the last of them ends.
struct Log {
    file: File,
    /// Length of the intact log; anything after it is a failed write.
    len: u64,
    /// A failed write may have left bytes after `len`.
    dirty: bool,
    /// The records read at open, for the first load (so a start reads the
    /// log once).
    preloaded: Option<Vec<Record>>,
    _lock: File,
}

fn io(context: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::with_source(format!("{context} {}", path.display()), e)
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`, locking the directory.
    ///
    /// Repairs a damaged log, rewriting it with its intact records. A log
    /// past its bound ([`max_log_bytes`](Self::max_log_bytes)) is compacted at
    /// the next append.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        let lock = lock(&dir)?;
        let path = dir.join(LOG);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("cannot read", &path, e)),
        };
        let (frames, damaged) = scan(&bytes, &path);
        if damaged {
            rewrite(&dir, &bytes, &frames)?;
        }
        let preloaded = frames.into_iter().filter_map(|f| f.record).collect();
        let file = open_append(&path)?;
        let len = file
            .metadata()
            .map_err(|e| io("cannot stat", &path, e))?
            .len();
        Ok(FileStore {
            dir,
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
            log: Arc::new(Mutex::new(Log {
                file,
                len,
                dirty: false,
                preloaded: Some(preloaded),
                _lock: lock,
            })),
        })
    }

    /// Bounds the log to `bytes` (at least one frame is always kept): when
    /// an append takes it past the bound, it is compacted to the newest
    /// records filling half of it. The default is [`DEFAULT_MAX_LOG_BYTES`].
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("finch-doc-bound-{}", std::process::id()));
    /// let store = finch_core::knowledge::FileStore::open(&dir)?.max_log_bytes(1 << 20);
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), finch_core::StoreError>(())
    /// ```
    pub fn max_log_bytes(mut self, bytes: u64) -> Self {
        self.max_log_bytes = bytes;
        self
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Takes the directory's lock, or says who holds it and what to do.
fn lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io("cannot open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::new(format!(
            "the knowledge directory {} is in use: another process (or another FileStore) \
             holds {}; give each process its own directory, or stop the other one first",
            dir.display(),
            path.display()
        ))),
        Err(TryLockError::Error(e)) => Err(io("cannot lock", &path, e)),
    }
}

fn open_append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io("cannot open", path, e))
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync", dir, e))
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn replace(dir: &Path, path: &Path, bytes: &[&[u8]]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
    for part in bytes {
        f.write_all(part).map_err(|e| io("cannot write", &tmp, e))?;
    }
    f.sync_all().map_err(|e| io("cannot sync", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io("cannot replace", path, e))?;
    sync_dir(dir)
}

/// One intact frame of the log: where it lies and its record (`None` when
/// it does not decode, e.g. written by another version of finch).
struct Frame {
    start: usize,
    end: usize,
    record: Option<Record>,
}

/// The end of the intact frame at `at` of at most `max` bytes, if there is one.
fn frame_at(bytes: &[u8], at: usize, max: usize) -> Option<usize> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    // No record encodes to nothing: an empty frame is zeroed space.
    if len == 0 || len > max {
        return None;
    }
    let end = at + HEADER + len;
    let payload = bytes.get(at + HEADER..end)?;
    (crc32fast::hash(payload) == crc).then_some(end)
}

/// Every intact frame of the log, and whether damaged bytes were skipped.
/// After a damaged frame, reading goes on at the next offset where a frame
/// is intact and decodes.
fn scan(bytes: &[u8], path: &Path) -> (Vec<Frame>, bool) {
    let decode =
        |start: usize, end: usize| postcard::from_bytes::<Record>(&bytes[start + HEADER..end]);
    let mut frames = Vec::new();
    let mut damaged = false;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(end) = frame_at(bytes, at, MAX_FRAME) {
            let record = decode(at, end)
                .inspect_err(|e| {
                    tracing::warn!(
                        path = %path.display(),
                        at,
                        error = %e,
                        "finch: undecodable knowledge record skipped"
                    );
                })
                .ok();
            frames.push(Frame {
                start: at,
                end,
                record,
            });
            at = end;
            continue;
        }
        damaged = true;
        let next = (at + 1..bytes.len()).find(|&i| {
            frame_at(bytes, i, RESYNC_MAX_FRAME).is_some_and(|end| decode(i, end).is_ok())
        });
        tracing::warn!(
            path = %path.display(),
            at,
            skipped = next.unwrap_or(bytes.len()) - at,
            "finch: torn knowledge record skipped"
        );
        match next {
            Some(i) => at = i,
            None => break,
        }
    }
    (frames, damaged)
}

/// How many of the newest frames to keep under `max` bytes: all of them
/// within the bound, else those filling half of it (at least one).
fn retain(frames: &[Frame], max: u64) -> usize {
    let size = |f: &Frame| (f.end - f.start) as u64;
    if frames.iter().map(size).sum::<u64>() <= max {
        return frames.len();
    }
    let mut total = 0;
    let kept = frames
        .iter()
        .rev()
        .take_while(|f| {
            total += size(f);
            total <= max / 2
        })
        .count();
    kept.max(1).min(frames.len())
}

/// Replaces the log with `frames` of `bytes`.
fn rewrite(dir: &Path, bytes: &[u8], frames: &[Frame]) -> Result<(), StoreError> {
    let parts: Vec<&[u8]> = frames.iter().map(|f| &bytes[f.start..f.end]).collect();
    replace(dir, &dir.join(LOG), &parts)
}

impl Log {
    /// Appends `buf`; a failed write is cut off so the next one does not land
    /// after a torn frame.
    fn append(&mut self, buf: &[u8], path: &Path) -> Result<(), StoreError> {
        if self.dirty {
            self.file
                .set_len(self.len)
                .map_err(|e| io("cannot cut a failed write from", path, e))?;
            self.dirty = false;
        }
        let written = self
            .file
            .write_all(buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.dirty = self.file.set_len(self.len).is_err();
            return Err(io("cannot write", path, e));
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Compacts the log to the newest records filling half of `max`.
    fn compact(&mut self, dir: &Path, max: u64) -> Result<(), StoreError> {
        let path = dir.join(LOG);
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(self.len).read_to_end(&mut bytes))
            .map_err(|e| io("cannot read", &path, e))?;
        let (mut frames, _) = scan(&bytes, &path);
        let dropped = frames.len() - retain(&frames, max);
        rewrite(dir, &bytes, &frames[dropped..])?;
        self.file = open_append(&path)?;
        self.len = frames[dropped..]
            .iter()
            .map(|f| (f.end - f.start) as u64)
            .sum();
        if self.preloaded.is_some() {
            self.preloaded = Some(frames.drain(dropped..).filter_map(|f| f.record).collect());
        }
        tracing::info!(
            path = %path.display(),
            dropped,
            bytes = self.len,
            "finch: knowledge log compacted to its bound"
        );
        Ok(())
    }
}

fn frame(record: &Record, out: &mut Vec<u8>) -> Result<(), StoreError> {
    let payload = postcard::to_allocvec(record)
        .map_err(|e| StoreError::with_source("encoding a record", e))?;
    let len =
        u32::try_from(payload.len()).map_err(|_| StoreError::new("a record larger than 4 GiB"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// The model in the file, if it is intact; a damaged one is skipped with a
/// warning (the loop retrains).
fn read_model(path: &Path) -> Result<Option<ModelBlob>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("cannot read", path, e)),
    };
    let checked = bytes
        .strip_prefix(MODEL_MAGIC.as_slice())
        .and_then(|rest| rest.split_first_chunk::<4>())
        .filter(|(crc, payload)| crc32fast::hash(payload) == u32::from_le_bytes(**crc))
        .map(|(_, payload)| payload);
    let Some(payload) = checked else {
        tracing::warn!(path = %path.display(), "finch: damaged model skipped (bad checksum); retraining");
        return Ok(None);
    };
    match postcard::from_bytes::<ModelBlob>(payload) {
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %crate::error::Chain(&e), "finch: unreadable model skipped");
            Ok(None)
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::with_source("the file store task failed", e))?
}

impl KnowledgeStore for FileStore {
    fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        let log = Arc::clone(&self.log);
        let dir = self.dir.clone();
        let max = self.max_log_bytes;
        Box::pin(blocking(move || {
            let mut buf = Vec::new();
            for r in &records {
                frame(r, &mut buf)?;
            }
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            log.append(&buf, &dir.join(LOG))?;
            if let Some(preloaded) = log.preloaded.as_mut() {
                preloaded.extend(records);
            }
            if log.len > max
                && let Err(e) = log.compact(&dir, max)
            {
                tracing::warn!(error = %crate::error::Chain(&e), "finch: knowledge log not compacted");
            }
            Ok(())
        }))
    }

    fn save_model(&self, model: ModelBlob) -> BoxFuture<'_, Result<(), StoreError>> {
        let dir = self.dir.clone();
        Box::pin(blocking(move || {
            let payload = postcard::to_allocvec(&model)
                .map_err(|e| StoreError::with_source("encoding the model", e))?;
            let crc = crc32fast::hash(&payload).to_le_bytes();
            replace(&dir, &dir.join(MODEL), &[MODEL_MAGIC, &crc, &payload])
        }))
    }

    fn load(&self, max_observations: usize) -> BoxFuture<'_, Result<Knowledge, StoreError>> {
        let dir = self.dir.clone();
        let log = Arc::clone(&self.log);
        Box::pin(blocking(move || {
            let path = dir.join(LOG);
            let preloaded = log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .preloaded
                .take();
            let records = match preloaded {
                Some(records) => records,
                None => {
                    let bytes = fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
                    scan(&bytes, &path)
                        .0
                        .into_iter()
                        .filter_map(|f| f.record)
                        .collect()
                }
            };
            let mut observations = Vec::new();
            let mut decisions = Vec::new();
            // A batch whose write outlived the journal's deadline is written
            // again; its observations are kept once.
            let mut seen = std::collections::HashSet::new();
            for r in records {
                match r {
                    Record::Observation(o) => {
                        if seen.insert((o.instance.clone(), o.seq)) {
                            observations.push(o);
                        }
                    }
                    Record::Decision(d) => decisions.push(d),
                }
            }
            let skip = observations.len().saturating_sub(max_observations);
            observations.drain(..skip);
            Ok(Knowledge {
                observations,
                decisions: latest_decisions(decisions),
                model: read_model(&dir.join(MODEL))?,
            })
        }))
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        let log = Arc::clone(&self.log);
        let path = self.dir.join(LOG);
        Box::pin(blocking(move || {
            let log = log.lock().unwrap_or_else(|p| p.into_inner());
            log.file.sync_all().map_err(|e| io("cannot sync", &path, e))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Observation;

    fn obs(seq: u64) -> Record {
        Record::Observation(Observation {
            instance: "t".into(),
            seq,
            at_ms: seq,
            length_secs: 1.0,
            generation: 0,
            clean: true,
            knobs: [("k".to_string(), seq as f64)].into(),
            workload: Default::default(),
            signals: Default::default(),
            slis: [("s/p99".to_string(), 0.01)].into(),
        })
    }

    fn seqs(k: &Knowledge) -> Vec<u64> {
        k.observations.iter().map(|o| o.seq).collect()
    }

    /// A log of `n` frames and where each ends.
    fn log_of(n: u64) -> (Vec<u8>, Vec<usize>) {
        let (mut bytes, mut ends) = (Vec::new(), Vec::new());
        for seq in 1..=n {
            frame(&obs(seq), &mut bytes).unwrap();
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    fn scanned(bytes: &[u8]) -> Vec<u64> {
        scan(bytes, Path::new("fuzz"))
            .0
            .into_iter()
            .filter_map(|f| match f.record {
                Some(Record::Observation(o)) => Some(o.seq),
                _ => None,
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)
        ) {
            let _ = scanned(&bytes);
        }

        /// A log cut anywhere keeps every frame that ends before the cut; a
        /// bit flipped anywhere costs the frame it hits and no other.
        #[test]
        fn damage_costs_no_frame_but_the_one_it_hits(
            n in 1u64..24,
            at in proptest::prelude::any::<proptest::sample::Index>(),
            bit in 0u8..8,
            cut in proptest::prelude::any::<bool>(),
        ) {
            let (mut bytes, ends) = log_of(n);
            let at = at.index(bytes.len());
            let hit = ends.iter().position(|&e| e > at).unwrap() as u64 + 1;
            let expected: Vec<u64> = if cut {
                bytes.truncate(at);
                (1..hit).collect()
            } else {
                bytes[at] ^= 1 << bit;
                (1..=n).filter(|&s| s != hit).collect()
            };
            proptest::prop_assert_eq!(scanned(&bytes), expected);
        }

        /// The store opens a damaged log, keeps what is intact and appends
        /// after it without losing anything at the next open.
        #[test]
        fn a_damaged_log_opens_and_takes_appends(
            n in 1u64..12,
            at in proptest::prelude::any::<proptest::sample::Index>(),
            cut in proptest::prelude::any::<bool>(),
        ) {
            let (mut bytes, _) = log_of(n);
            let at = at.index(bytes.len());
            if cut {
                bytes.truncate(at);
            } else {
                bytes[at] ^= 0x5a;
            }
            let intact = scanned(&bytes);
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(LOG), &bytes).unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let reopened = runtime.block_on(async {
                let store = FileStore::open(dir.path()).unwrap();
                store.append(vec![obs(100)]).await.unwrap();
                drop(store);
                seqs(&FileStore::open(dir.path()).unwrap().load(1000).await.unwrap())
            });
            let mut expected = intact;
            expected.push(100);
            proptest::prop_assert_eq!(reopened, expected);
        }
    }

    #[tokio::test]
    async fn a_torn_last_record_is_skipped_and_later_appends_stay_readable() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        store.append(vec![obs(1), obs(2)]).await.unwrap();
        store.append(vec![obs(2)]).await.unwrap();
        store.append(vec![obs(3)]).await.unwrap();
        drop(store);

        // Tear the last record: cut it in the middle.
        let path = dir.path().join(LOG);
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 5)
            .unwrap();

        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(seqs(&store.load(100).await.unwrap()), vec![1, 2]);
        store.append(vec![obs(4)]).await.unwrap();
        assert_eq!(seqs(&store.load(100).await.unwrap()), vec![1, 2, 4]);
        assert_eq!(seqs(&store.load(2).await.unwrap()), vec![2, 4]);
    }

    #[tokio::test]
    async fn a_decision_of_the_layout_before_verdicts_is_skipped_and_nothing_else_is_lost() {
        use crate::decision::{Decision, DecisionKind, DecisionOutcome};
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        store.append(vec![obs(1)]).await.unwrap();
        drop(store);
        // A decision as an earlier finch wrote it: the same fields, without
        // the verdict (with no changes, nothing else differs), in an intact
        // frame.
        let d = Decision {
            id: 7,
            instance: "t".into(),
            window: 1,
            at_ms: 2,
            kind: DecisionKind::Explore,
            changes: Vec::new(),
            reason: "before verdicts were kept".into(),
            measured_before: Default::default(),
            predicted_before: Default::default(),
            predicted_after: Default::default(),
            cost_before: 0.5,
            cost_after: 0.6,
            outcome: DecisionOutcome::Pending,
            verdict: None,
        };
        let mut payload = postcard::to_allocvec(&Record::Decision(d)).unwrap();
        assert_eq!(
            payload.pop(),
            Some(0),
            "the verdict's `None` is the last byte"
        );
        let mut bytes = fs::read(dir.path().join(LOG)).unwrap();
        bytes.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        fs::write(dir.path().join(LOG), bytes).unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        store.append(vec![obs(2)]).await.unwrap();
        let k = store.load(100).await.unwrap();
        assert_eq!(
            seqs(&k),
            vec![1, 2],
            "observations before and after it load"
        );
        assert!(
            k.decisions.is_empty(),
            "the old decision is skipped, not misread"
        );
    }

    #[tokio::test]
    async fn decisions_of_every_outcome_round_trip() {
        use crate::decision::{Change, Decision, DecisionKind, DecisionOutcome, Verdict};
        let outcomes = [
            DecisionOutcome::Pending,
            DecisionOutcome::Kept {
                note: "held".into(),
            },
            DecisionOutcome::RolledBack {
                reason: "worse".into(),
            },
            DecisionOutcome::ApplyFailed {
                reason: "refused".into(),
            },
        ];
        let decisions: Vec<Decision> = outcomes
            .into_iter()
            .enumerate()
            .map(|(id, outcome)| Decision {
                id: id as u64,
                instance: "t".into(),
                window: 3,
                at_ms: 4,
                kind: DecisionKind::Exploit,
                changes: vec![Change {
                    knob: "k".into(),
                    from: "1".into(),
                    to: "2".into(),
                    probed: true,
                }],
                reason: "because".into(),
                measured_before: [("s/p99".to_string(), 0.2)].into(),
                predicted_before: [("s/p99".to_string(), 0.19)].into(),
                predicted_after: [("s/p99".to_string(), 0.05)].into(),
                cost_before: 0.5,
                cost_after: 0.25,
                outcome,
                verdict: Some(Verdict::Held),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let mut records: Vec<Record> = decisions.iter().cloned().map(Record::Decision).collect();
        records.push(obs(9));
        store.append(records).await.unwrap();
        drop(store);
        let back = FileStore::open(dir.path())
            .unwrap()
            .load(100)
            .await
            .unwrap();
        assert_eq!(back.decisions, decisions);
        assert_eq!(seqs(&back), vec![9]);
    }

    #[tokio::test]
    async fn a_corrupted_record_is_skipped_and_the_next_ones_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        store.append(vec![obs(1), obs(2)]).await.unwrap();
        store.append(vec![obs(3)]).await.unwrap();
        drop(store);
        let path = dir.path().join(LOG);
        let mut bytes = fs::read(&path).unwrap();
        let second = frame_at(&bytes, 0, MAX_FRAME).unwrap();
        bytes[second + HEADER + 2] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(seqs(&store.load(100).await.unwrap()), vec![1, 3]);
    }

    #[tokio::test]
    async fn a_torn_frame_mid_file_loses_no_later_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        store.append(vec![obs(1), obs(2)]).await.unwrap();
        // A write that failed half-way (a full disk, a crash of another
        // writer): part of a frame is left at the end of the log.
        let mut torn = Vec::new();
        frame(&obs(3), &mut torn).unwrap();
        let path = dir.path().join(LOG);
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(raw);
        store.append(vec![obs(4)]).await.unwrap();
        store.append(vec![obs(5)]).await.unwrap();
        drop(store);

        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(seqs(&store.load(100).await.unwrap()), vec![1, 2, 4, 5]);
        store.append(vec![obs(6)]).await.unwrap();
        drop(store);
        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(seqs(&store.load(100).await.unwrap()), vec![1, 2, 4, 5, 6]);
        let (_, damaged) = scan(&fs::read(&path).unwrap(), &path);
        assert!(!damaged, "the log was repaired at open");
    }

    #[tokio::test]
    async fn a_second_store_on_the_directory_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let Err(e) = FileStore::open(dir.path()) else {
            panic!("two stores on one directory");
        };
        let e = e.to_string();
        assert!(e.contains("in use") && e.contains("own directory"), "{e}");
        drop(store);
        assert!(
            FileStore::open(dir.path()).is_ok(),
            "the lock goes with the store"
        );
    }

    #[tokio::test]
    async fn the_log_stays_within_its_bound_and_keeps_the_newest_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap().max_log_bytes(4096);
        let path = dir.path().join(LOG);
        for seq in 1..=500 {
            store.append(vec![obs(seq)]).await.unwrap();
            assert!(fs::metadata(&path).unwrap().len() <= 4096, "at {seq}");
        }
        let kept = seqs(&store.load(1000).await.unwrap());
        assert_eq!(kept.last(), Some(&500));
        assert!(kept.len() > 10, "{kept:?}");
        assert!(kept.windows(2).all(|w| w[1] == w[0] + 1), "{kept:?}");
        drop(store);
        let again = FileStore::open(dir.path()).unwrap();
        assert_eq!(seqs(&again.load(1000).await.unwrap()), kept);
        drop(again);
        let tighter = FileStore::open(dir.path()).unwrap().max_log_bytes(1024);
        tighter.append(vec![obs(501)]).await.unwrap();
        assert!(fs::metadata(&path).unwrap().len() <= 1024);
        assert_eq!(seqs(&tighter.load(1000).await.unwrap()).last(), Some(&501));
    }

    #[tokio::test]
    async fn a_damaged_model_is_skipped_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        store
            .save_model(ModelBlob {
                instance: "t".into(),
                at_ms: 1,
                bytes: vec![7; 64],
            })
            .await
            .unwrap();
        let path = dir.path().join(MODEL);
        let good = fs::read(&path).unwrap();
        for damage in [
            good[..good.len() - 3].to_vec(),
            good.iter()
                .enumerate()
                .map(|(i, b)| if i == 40 { b ^ 1 } else { *b })
                .collect(),
            postcard::to_allocvec(&ModelBlob {
                instance: "t".into(),
                at_ms: 1,
                bytes: vec![7; 64],
            })
            .unwrap(),
            Vec::new(),
        ] {
            fs::write(&path, &damage).unwrap();
            assert_eq!(store.load(1).await.unwrap().model, None);
        }
        fs::write(&path, &good).unwrap();
        assert_eq!(store.load(1).await.unwrap().model.unwrap().at_ms, 1);
    }

    #[tokio::test]
    async fn the_model_survives_and_replaces_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        for at_ms in [1, 2] {
            store
                .save_model(ModelBlob {
                    instance: "t".into(),
                    at_ms,
                    bytes: vec![at_ms as u8; 10],
                })
                .await
                .unwrap();
        }
        drop(store);
        let again = FileStore::open(dir.path()).unwrap();
        assert_eq!(again.load(1).await.unwrap().model.unwrap().at_ms, 2);
    }
}
