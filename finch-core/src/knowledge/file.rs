//! A store in a directory that survives restarts: an append-only log of framed
//! records and the latest model beside it.
//!
//! Each record is framed as `length (u32 LE) | CRC-32 of the payload (u32 LE) |
//! payload (postcard)`. Reading stops at the first frame that is incomplete or
//! fails its checksum (a write torn by a crash); that tail is cut off before the
//! next append, so a torn record never corrupts the records before or after it.
//! The model is written to a temporary file and renamed over the old one.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Knowledge, KnowledgeStore, ModelBlob, Record, latest_decisions};
use crate::error::StoreError;
use crate::util::BoxFuture;

const LOG: &str = "journal.log";
const MODEL: &str = "model.bin";
const HEADER: usize = 8;
/// A frame claiming more than this is treated as torn.
const MAX_FRAME: usize = 64 << 20;

/// Keeps knowledge in a directory so a restarted service starts warm.
///
/// ```no_run
/// let store = finch_core::knowledge::FileStore::open("/var/lib/myservice/finch")?;
/// let config = finch_core::Config::default().store(store);
/// # let _ = config;
/// # Ok::<(), finch_core::StoreError>(())
/// ```
pub struct FileStore {
    dir: PathBuf,
    log: Arc<Mutex<Option<File>>>,
}

fn io(context: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::new(format!("{context} {}: {e}", path.display()))
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        let path = dir.join(LOG);
        let (_, good) = read_frames(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("cannot open", &path, e))?;
        file.set_len(good)
            .map_err(|e| io("cannot trim", &path, e))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io("cannot open", &path, e))?;
        Ok(FileStore {
            dir,
            log: Arc::new(Mutex::new(Some(file))),
        })
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Every intact record of the log and the length of the intact prefix.
fn read_frames(path: &Path) -> Result<(Vec<Record>, u64), StoreError> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)
                .map_err(|e| io("cannot read", path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(io("cannot open", path, e)),
    }
    let mut records = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= HEADER {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let start = at + HEADER;
        if len > MAX_FRAME || bytes.len() - start < len {
            break;
        }
        let payload = &bytes[start..start + len];
        if crc32fast::hash(payload) != crc {
            break;
        }
        // A whole frame that does not decode (written by another version of
        // finch) is skipped; the records after it are still good.
        match postcard::from_bytes::<Record>(payload) {
            Ok(r) => records.push(r),
            Err(e) => tracing::warn!(
                path = %path.display(),
                at,
                error = %e,
                "finch: undecodable knowledge record skipped"
            ),
        }
        at = start + len;
    }
    if at < bytes.len() {
        tracing::warn!(
            path = %path.display(),
            kept = at,
            cut = bytes.len() - at,
            "finch: knowledge log ends with a torn record; it is skipped"
        );
    }
    Ok((records, at as u64))
}

fn frame(record: &Record, out: &mut Vec<u8>) -> Result<(), StoreError> {
    let payload =
        postcard::to_allocvec(record).map_err(|e| StoreError::new(format!("encoding: {e}")))?;
    let len =
        u32::try_from(payload.len()).map_err(|_| StoreError::new("a record larger than 4 GiB"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::new(format!("file store task failed: {e}")))?
}

impl KnowledgeStore for FileStore {
    fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        let log = Arc::clone(&self.log);
        let path = self.dir.join(LOG);
        Box::pin(blocking(move || {
            let mut buf = Vec::new();
            for r in &records {
                frame(r, &mut buf)?;
            }
            let mut guard = log.lock().unwrap_or_else(|p| p.into_inner());
            let file = guard
                .as_mut()
                .ok_or_else(|| StoreError::new("the file store is closed"))?;
            file.write_all(&buf)
                .map_err(|e| io("cannot write", &path, e))?;
            file.sync_data().map_err(|e| io("cannot sync", &path, e))
        }))
    }

    fn save_model(&self, model: ModelBlob) -> BoxFuture<'_, Result<(), StoreError>> {
        let dir = self.dir.clone();
        Box::pin(blocking(move || {
            let bytes = postcard::to_allocvec(&model)
                .map_err(|e| StoreError::new(format!("encoding the model: {e}")))?;
            let tmp = dir.join(format!("{MODEL}.tmp"));
            let path = dir.join(MODEL);
            let mut f = File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
            f.write_all(&bytes)
                .map_err(|e| io("cannot write", &tmp, e))?;
            f.sync_all().map_err(|e| io("cannot sync", &tmp, e))?;
            fs::rename(&tmp, &path).map_err(|e| io("cannot replace", &path, e))
        }))
    }

    fn load(&self, max_observations: usize) -> BoxFuture<'_, Result<Knowledge, StoreError>> {
        let dir = self.dir.clone();
        Box::pin(blocking(move || {
            let (records, _) = read_frames(&dir.join(LOG))?;
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
            let path = dir.join(MODEL);
            let model = match fs::read(&path) {
                Ok(bytes) => match postcard::from_bytes::<ModelBlob>(&bytes) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "finch: unreadable model skipped");
                        None
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io("cannot read", &path, e)),
            };
            Ok(Knowledge {
                observations,
                decisions: latest_decisions(decisions),
                model,
            })
        }))
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        let log = Arc::clone(&self.log);
        let path = self.dir.join(LOG);
        Box::pin(blocking(move || {
            let guard = log.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(f) => f.sync_all().map_err(|e| io("cannot sync", &path, e)),
                None => Ok(()),
            }
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
    async fn decisions_of_every_outcome_round_trip() {
        use crate::execute::{Change, Decision, DecisionKind, DecisionOutcome};
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
                }],
                reason: "because".into(),
                measured_before: [("s/p99".to_string(), 0.2)].into(),
                predicted_before: [("s/p99".to_string(), 0.19)].into(),
                predicted_after: [("s/p99".to_string(), 0.05)].into(),
                cost_before: 0.5,
                cost_after: 0.25,
                outcome,
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let mut records: Vec<Record> = decisions.iter().cloned().map(Record::Decision).collect();
        records.push(obs(9));
        store.append(records).await.unwrap();
        let back = FileStore::open(dir.path())
            .unwrap()
            .load(100)
            .await
            .unwrap();
        assert_eq!(back.decisions, decisions);
        assert_eq!(seqs(&back), vec![9]);
    }

    #[tokio::test]
    async fn a_corrupted_record_stops_reading_there() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        store.append(vec![obs(1), obs(2)]).await.unwrap();
        let path = dir.path().join(LOG);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        assert_eq!(seqs(&store.load(100).await.unwrap()), vec![1]);
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
        let again = FileStore::open(dir.path()).unwrap();
        assert_eq!(again.load(1).await.unwrap().model.unwrap().at_ms, 2);
    }
}
