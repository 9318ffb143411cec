//! The route of an operation's requests through a service's stations.

use super::dist::Dist;

/// A concurrency limit or a pool of a service (see `Service::add_limit`, `Service::add_pool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StationId(pub(crate) usize);

/// A processor of a service: a CPU stage or a database (see `Service::add_processor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessorId(pub(crate) usize);

/// A cache of a service (see `Service::add_cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheId(pub(crate) usize);

/// One step of a [`Pipeline`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Step {
    Acquire(StationId),
    Serve(ProcessorId, Dist),
    Delay(Dist),
    Cache { cache: CacheId, skip: usize },
}

/// The steps a request of one operation goes through, in order.
///
/// - [`Pipeline::acquire`]: wait (FIFO, with the station's timeout) for a token
///   of a limit or a pool, and hold it until the request ends;
/// - [`Pipeline::serve`]: do work on a processor, shared with the other requests there;
/// - [`Pipeline::delay`]: wait a sampled time without using any resource (network, a remote call);
/// - [`Pipeline::cache`]: look a Zipf-drawn key up; a hit skips the miss branch,
///   a miss runs it and fills the cache if the request succeeds.
///
/// A request that times out or is rejected ends there; it releases every token
/// it holds when it ends, in reverse order.
///
/// ```
/// use finch_core::lab::sim::{Dist, Pipeline, Service, CacheSpec, PoolSpec, ProcessorSpec};
///
/// let mut svc = Service::new(1);
/// let pool = svc.add_pool(PoolSpec::new(8).timeout(0.5))?;
/// let db = svc.add_processor(ProcessorSpec::cpu(2))?;
/// let cache = svc.add_cache(CacheSpec { keys: 1000, zipf_s: 0.9, capacity: 100 })?;
/// let read = Pipeline::new()
///     .cache(cache, Pipeline::new().acquire(pool).serve(db, Dist::exp(0.002)?));
/// assert_eq!(read.len(), 3);
/// # Ok::<(), finch_core::lab::sim::SimError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pipeline {
    pub(crate) steps: Vec<Step>,
}

impl Pipeline {
    /// An empty pipeline: its requests succeed at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for a token of `station` and holds it until the request ends.
    pub fn acquire(mut self, station: StationId) -> Self {
        self.steps.push(Step::Acquire(station));
        self
    }

    /// Serves `work` (seconds of one core at full speed) on `processor`.
    pub fn serve(mut self, processor: ProcessorId, work: Dist) -> Self {
        self.steps.push(Step::Serve(processor, work));
        self
    }

    /// Waits `duration` without using any resource.
    pub fn delay(mut self, duration: Dist) -> Self {
        self.steps.push(Step::Delay(duration));
        self
    }

    /// Looks a key up in `cache`; on a miss, runs the steps of `miss`, then
    /// continues; on a hit, skips them.
    pub fn cache(mut self, cache: CacheId, miss: Pipeline) -> Self {
        self.steps.push(Step::Cache {
            cache,
            skip: miss.steps.len(),
        });
        self.steps.extend(miss.steps);
        self
    }

    /// The number of steps (a cache step and its miss branch count separately).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether there is no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}
