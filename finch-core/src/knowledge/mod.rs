//! Knowledge: observations, decisions and models, behind a small
//! [`KnowledgeStore`] trait. In memory by default; [`FileStore`] survives
//! restarts; finch-postgres shares one store among replicas.
//!
//! The loop never waits on a store for long and never loses a record to a
//! failing one: records queue in a bounded in-memory journal and are written
//! when the store accepts them; beyond the bound the oldest are dropped and
//! counted.

mod file;
mod journal;
mod memory;

use serde::{Deserialize, Serialize};

pub use file::{DEFAULT_MAX_LOG_BYTES, FileStore};
pub(crate) use journal::Journal;
pub use journal::JournalStatus;
pub use memory::MemoryStore;

use crate::decision::Decision;
use crate::error::StoreError;
use crate::monitor::Observation;
use crate::util::BoxFuture;

/// One entry of the knowledge log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// A window's observation.
    Observation(Observation),
    /// A decision, or a later state of it (same `id`: the last one counts).
    Decision(Decision),
}

/// A trained model, serialized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelBlob {
    /// The instance that trained it.
    pub instance: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The model, in finch's own format.
    pub bytes: Vec<u8>,
}

/// What a store holds, as loaded at start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Knowledge {
    /// The most recent observations, oldest first.
    pub observations: Vec<Observation>,
    /// Decisions, oldest first, each in its latest state.
    pub decisions: Vec<Decision>,
    /// The latest model.
    pub model: Option<ModelBlob>,
}

/// Where an instance's numbering stands in a store: the highest observation
/// `seq` and decision `id` it wrote (0 when it wrote none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Numbering {
    /// The highest observation `seq`.
    pub last_seq: u64,
    /// The highest decision `id`.
    pub last_decision: u64,
}

/// Where the loop keeps what it learns.
///
/// Writes must be idempotent per record (an observation is identified by
/// instance and `seq`, a decision state by instance, `id` and outcome): after a
/// timeout the loop writes the same records again.
pub trait KnowledgeStore: Send + Sync + 'static {
    /// Appends records, in order.
    fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Saves a model (replacing older ones as the store sees fit).
    fn save_model(&self, model: ModelBlob) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Loads at most `max_observations` recent observations, the decisions and
    /// the latest model.
    fn load(&self, max_observations: usize) -> BoxFuture<'_, Result<Knowledge, StoreError>>;

    /// Observations other instances wrote after `cursor` (a position returned by
    /// an earlier call; 0 at first), and the new cursor. Stores that are not
    /// shared return nothing.
    fn shared_since(
        &self,
        instance: &str,
        cursor: u64,
    ) -> BoxFuture<'_, Result<(Vec<Observation>, u64), StoreError>> {
        let _ = instance;
        Box::pin(async move { Ok((Vec::new(), cursor)) })
    }

    /// Where `instance`'s numbering stands, so a restarted instance numbers on
    /// after everything it wrote (whatever other instances wrote since).
    /// `Ok(None)` (the default) when the store cannot tell cheaply: the loop
    /// then takes the numbers from [`load`](Self::load).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), finch_core::StoreError> {
    /// use finch_core::knowledge::{KnowledgeStore, MemoryStore};
    ///
    /// // The memory store cannot tell: the loop takes the numbers from `load`.
    /// assert_eq!(MemoryStore::default().last_numbers("api-1").await?, None);
    /// # Ok(())
    /// # }
    /// ```
    fn last_numbers(&self, instance: &str) -> BoxFuture<'_, Result<Option<Numbering>, StoreError>> {
        let _ = instance;
        Box::pin(async { Ok(None) })
    }

    /// Makes everything written so far durable.
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A model's bytes start with this, then the CRC-32 of the rest (u32 LE), in
/// every store: a blob damaged anywhere on its way is refused before it is
/// decoded.
const SEAL: &[u8; 8] = b"finchSM1";

/// `model` with the seal and checksum that [`unseal`] checks.
pub(crate) fn seal(model: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEAL.len() + 4 + model.len());
    out.extend_from_slice(SEAL);
    out.extend_from_slice(&crc32fast::hash(model).to_le_bytes());
    out.extend_from_slice(model);
    out
}

/// The model inside a sealed blob, or why the blob is refused.
pub(crate) fn unseal(blob: &[u8]) -> Result<&[u8], String> {
    let rest = blob
        .strip_prefix(SEAL.as_slice())
        .ok_or("it is not a sealed finch model (written by another version?)")?;
    let (crc, model) = rest.split_first_chunk::<4>().ok_or("it is cut short")?;
    if crc32fast::hash(model) != u32::from_le_bytes(*crc) {
        return Err("its checksum does not match (damaged)".into());
    }
    Ok(model)
}

/// Keeps the latest state of each decision, in order of first appearance.
pub(crate) fn latest_decisions(decisions: impl IntoIterator<Item = Decision>) -> Vec<Decision> {
    let mut out: Vec<Decision> = Vec::new();
    for d in decisions {
        match out
            .iter_mut()
            .find(|x| x.id == d.id && x.instance == d.instance)
        {
            Some(slot) => *slot = d,
            None => out.push(d),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// A sealed blob cut short or with any bit flipped is refused.
        #[test]
        fn a_damaged_blob_is_refused(
            model in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            bit in 0u8..8,
            cut in proptest::prelude::any::<bool>(),
        ) {
            let mut blob = seal(&model);
            proptest::prop_assert_eq!(unseal(&blob), Ok(model.as_slice()));
            let at = at.index(blob.len());
            if cut {
                blob.truncate(at);
            } else {
                blob[at] ^= 1 << bit;
            }
            proptest::prop_assert!(unseal(&blob).is_err());
        }

        #[test]
        fn arbitrary_bytes_are_refused(
            blob in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)
        ) {
            proptest::prop_assert!(unseal(&blob).is_err());
        }
    }
}
