//! Parts of simulated services in virtual time: a discrete-event kernel and the
//! reusable stations a service author composes into request pipelines.
//!
//! Everything runs in virtual seconds (`f64`) on a seeded
//! [`ChaCha8Rng`](rand_chacha::ChaCha8Rng): a seed gives the same requests, the
//! same latencies and the same records, and a few hundred one-second windows at
//! 1500 requests/s simulate in a fraction of a second.
//!
//! # The parts
//!
//! | Part | Type | Knobs and behaviour |
//! |---|---|---|
//! | kernel | [`Kernel`] | event queue ordered by time then scheduling order |
//! | arrivals | [`Arrivals`], [`Burstiness`], [`Mix`] | Poisson, batch Poisson or two-state MMPP at a rate that changes any time; operations drawn by share |
//! | concurrency limit | [`Station`], [`StationSpec`] | FIFO tokens, wait timeout (an error), bounded queue (a rejection), live capacity |
//! | connection pool | [`Pool`], [`PoolSpec`] | a station whose growth takes `open_delay` (connections opening) |
//! | CPU stage / database | [`Processor`], [`ProcessorSpec`], [`Contention`] | processor sharing on `k` cores; work × `1 + α·max(0, n − k·m)/k` with `n` active; slowdown factor |
//! | cache | [`LruCache`], [`Zipf`], [`CacheSpec`] | LRU over Zipf keys, filled by misses (warms up after growing), evicts on shrink |
//! | service times | [`Dist`] | constant, exponential, lognormal (by mean and p99/mean or σ), Pareto |
//! | late effects | [`DelayLine`], [`Applier`] | a value that shows after a delay; a change that applies after taking time |
//! | interference | [`Interference`] | an unannounced piecewise-constant slowdown of a processor |
//! | records | [`Record`], [`Outcome`] | operation, arrival, latency, ok / timeout / rejected |
//!
//! # Composing a service
//!
//! A [`Service`] owns one of each part you add and routes every request of an
//! operation along its [`Pipeline`]. A driver alternates: set the rate and the
//! knobs, [`Service::run_until`] the end of the window, and judge the window
//! from [`Service::drain_records`]. Requests still in flight stay in flight
//! into the next window.
//!
//! ```
//! use finch_core::lab::sim::{
//!     CacheSpec, Contention, Dist, Interference, Pipeline, PoolSpec, ProcessorSpec, Service,
//!     StationSpec,
//! };
//!
//! let mut svc = Service::new(7);
//! let app = svc.add_processor(ProcessorSpec::cpu(2))?;
//! let limit = svc.add_limit(StationSpec::new(100).timeout(1.0).queue_limit(500))?;
//! let pool = svc.add_pool(PoolSpec::new(10).timeout(0.25).open_delay(1.0))?;
//! let db = svc.add_processor(ProcessorSpec::database(4, Contention::new(1.0, 2.0)?))?;
//! let cache = svc.add_cache(CacheSpec { keys: 50_000, zipf_s: 0.9, capacity: 5_000 })?;
//!
//! // read: app CPU, then the cache; a miss goes through the limit and the pool to the db.
//! let read = svc.add_operation("read", 0.9, Pipeline::new()
//!     .serve(app, Dist::exp(0.0005)?)
//!     .cache(cache, Pipeline::new().acquire(limit).acquire(pool).serve(db, Dist::exp(0.003)?)))?;
//! // write: a longer, heavy-tailed database service.
//! let write = svc.add_operation("write", 0.1, Pipeline::new()
//!     .serve(app, Dist::exp(0.0005)?)
//!     .acquire(limit).acquire(pool).serve(db, Dist::lognormal_p99(0.010, 6.0)?))?;
//!
//! // The database is 3.5x slower from 0.5 s to 0.8 s, and nobody says so.
//! svc.interfere(db, &Interference::episode(0.5, 0.8, 3.5)?)?;
//!
//! svc.set_rate(800.0)?;
//! svc.run_until(1.0)?;
//! let window: Vec<_> = svc.drain_records().collect();
//! let writes = window.iter().filter(|r| r.op == write).count();
//! let failed = window.iter().filter(|r| !r.is_ok()).count();
//! assert!(window.len() > 600 && writes > 0);
//! assert!(window.iter().any(|r| r.op == read && r.is_ok()));
//! println!("{} requests, {failed} failed, {} in flight", window.len(), svc.in_flight());
//!
//! // Knobs change live: the pool grows after its open delay, the cache warms up.
//! svc.set_capacity(pool, 20)?;
//! svc.set_cache_capacity(cache, 20_000)?;
//! svc.run_until(2.0)?;
//! # Ok::<(), finch_core::lab::sim::SimError>(())
//! ```
//!
//! The parts are also usable on their own, with your own event type in a
//! [`Kernel`]: each station takes the caller's request handle and returns what
//! to schedule next ([`Admission::Queued`]'s ticket for a timeout, a
//! processor's [`Wakeup`], a pool's [`Pending`] growth).

mod arrivals;
mod cache;
mod database;
mod delay;
mod dist;
mod error;
mod interference;
mod kernel;
mod pipeline;
mod pool;
mod processor;
mod record;
mod service;
mod station;
#[cfg(test)]
mod tests;
mod zipf;

pub use arrivals::{Arrivals, Burstiness, Mix};
pub use cache::{CacheSpec, CacheStats, LruCache};
pub use database::Contention;
pub use delay::{Applier, DelayLine, Pending};
pub use dist::{Dist, Z99};
pub use error::SimError;
pub use interference::Interference;
pub use kernel::Kernel;
pub use pipeline::{CacheId, Pipeline, ProcessorId, StationId};
pub use pool::{Pool, PoolSpec};
pub use processor::{Completion, Processor, ProcessorSpec, Wakeup};
pub use record::{OpId, Outcome, Record};
pub use service::{Service, StationLoad};
pub use station::{Admission, Station, StationSpec, StationStats, Ticket};
pub use zipf::Zipf;
