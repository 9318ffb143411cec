//! A simulated service assembled from the components: arrivals, an operation
//! mix, and each operation's pipeline through limits, pools, processors and caches.

use std::collections::VecDeque;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::arrivals::{Arrivals, Burstiness, Mix};
use super::cache::{CacheSpec, KeyedCache, LruCache};
use super::error::{SimError, non_negative};
use super::interference::Interference;
use super::kernel::Kernel;
use super::pipeline::{CacheId, Pipeline, ProcessorId, StationId, Step};
use super::pool::{Pool, PoolSpec};
use super::processor::{Processor, ProcessorSpec, Wakeup};
use super::record::{OpId, Outcome, Record};
use super::station::{Admission, StationSpec};

/// The longest pipeline: a request keeps the tokens it holds in a 64-bit mask.
const MAX_STEPS: usize = 64;
const NO_CACHE: u32 = u32::MAX;

/// A request in flight: its slot index is the handle stations and processors hold.
#[derive(Debug, Clone, Copy)]
struct Request {
    op: u32,
    step: u32,
    held: u64,
    arrival: f64,
    cache: u32,
    key: u32,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Arrival { generation: u64, count: u32 },
    Timeout { station: usize },
    Wake { processor: usize, generation: u64 },
    DelayDone { request: u32 },
    Resize { station: usize, generation: u64 },
    Interfere { processor: usize, factor: f64 },
}

#[derive(Debug, Clone)]
struct Operation {
    name: String,
    steps: Vec<Step>,
}

/// A station's load integrated over time (see [`Service::station_load`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StationLoad {
    /// Token-seconds held.
    pub busy_secs: f64,
    /// Request-seconds spent waiting.
    pub waiting_secs: f64,
    /// Tokens granted (the throughput through the station, counted).
    pub granted: u64,
}

/// A simulated service in virtual time, fully determined by its seed.
///
/// Assemble it once (stations, processors, caches, then operations with their
/// share of the traffic and their [`Pipeline`]), then alternate: set the rate
/// (and any knob: capacities, cache size), [`Service::run_until`] the end of
/// the window, [`Service::drain_records`]. Requests in flight at the end of a
/// window stay in flight: backlog carries over.
///
/// Randomness comes from three streams of the seed (arrival times and
/// operations; keys; work and delays), so two services with the same seed and
/// the same rates see the same arrivals whatever their knobs.
///
/// ```
/// use finch_core::lab::sim::{
///     CacheSpec, Contention, Dist, Pipeline, PoolSpec, ProcessorSpec, Service, StationSpec,
/// };
///
/// let mut svc = Service::new(42);
/// let limit = svc.add_limit(StationSpec::new(64).timeout(1.0))?;
/// let pool = svc.add_pool(PoolSpec::new(16).timeout(0.5).open_delay(2.0))?;
/// let db = svc.add_processor(ProcessorSpec::database(4, Contention::new(0.5, 2.0)?))?;
/// let cache = svc.add_cache(CacheSpec { keys: 10_000, zipf_s: 0.9, capacity: 1_000 })?;
/// let miss = Pipeline::new().acquire(limit).acquire(pool).serve(db, Dist::exp(0.002)?);
/// let read = svc.add_operation("read", 0.8, Pipeline::new().cache(cache, miss))?;
/// svc.add_operation("write", 0.2, Pipeline::new()
///     .acquire(limit).acquire(pool).serve(db, Dist::lognormal_p99(0.006, 5.0)?))?;
/// svc.set_rate(500.0)?;
/// svc.run_until(1.0)?;
/// let window: Vec<_> = svc.drain_records().collect();
/// assert!(window.len() > 400);
/// assert!(window.iter().any(|r| r.op == read && r.is_ok()));
/// svc.set_capacity(pool, 32)?; // usable from t = 3.0: connections take 2 s to open
/// # Ok::<(), finch_core::lab::sim::SimError>(())
/// ```
#[derive(Debug)]
pub struct Service {
    kernel: Kernel<Event>,
    arrivals: Arrivals,
    arrival_generation: u64,
    mix: Option<Mix>,
    shares: Vec<f64>,
    ops: Vec<Operation>,
    stations: Vec<Pool<u32>>,
    /// Per station, tokens held and requests waiting, integrated over time.
    loads: Vec<StationLoad>,
    /// When `loads` were last brought up to date.
    integrated_until: f64,
    /// Whether a station has its (single) timeout event pending.
    timeout_pending: Vec<bool>,
    processors: Vec<Processor<u32>>,
    caches: Vec<KeyedCache>,
    requests: Vec<Request>,
    free: Vec<u32>,
    ready: VecDeque<u32>,
    records: Vec<Record>,
    rng_arrivals: ChaCha8Rng,
    rng_keys: ChaCha8Rng,
    rng_work: ChaCha8Rng,
}

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

impl Service {
    /// An empty service with Poisson arrivals at rate 0.
    pub fn new(seed: u64) -> Self {
        Self {
            kernel: Kernel::new(),
            arrivals: Arrivals::poisson(),
            arrival_generation: 0,
            mix: None,
            shares: Vec::new(),
            ops: Vec::new(),
            stations: Vec::new(),
            loads: Vec::new(),
            integrated_until: 0.0,
            timeout_pending: Vec::new(),
            processors: Vec::new(),
            caches: Vec::new(),
            requests: Vec::new(),
            free: Vec::new(),
            ready: VecDeque::new(),
            records: Vec::new(),
            rng_arrivals: stream(seed, 1),
            rng_keys: stream(seed, 2),
            rng_work: stream(seed, 3),
        }
    }

    /// Adds a concurrency limit: a station whose capacity changes take effect at once.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for a capacity of 0 or a non-positive timeout.
    pub fn add_limit(&mut self, spec: StationSpec) -> Result<StationId, SimError> {
        self.add_pool(PoolSpec::from(spec))
    }

    /// Adds a connection pool: a station whose growth takes [`PoolSpec::open_delay`].
    ///
    /// # Errors
    /// As [`Pool::new`].
    pub fn add_pool(&mut self, spec: PoolSpec) -> Result<StationId, SimError> {
        self.stations.push(Pool::new(spec)?);
        self.loads.push(StationLoad::default());
        self.timeout_pending.push(false);
        Ok(StationId(self.stations.len() - 1))
    }

    /// Adds a processor: a CPU stage ([`ProcessorSpec::cpu`]) or a database
    /// ([`ProcessorSpec::database`]).
    ///
    /// # Errors
    /// As [`Processor::new`].
    pub fn add_processor(&mut self, spec: ProcessorSpec) -> Result<ProcessorId, SimError> {
        self.processors.push(Processor::new(spec)?);
        Ok(ProcessorId(self.processors.len() - 1))
    }

    /// Adds an empty cache.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for no keys, too many keys or a negative Zipf exponent.
    pub fn add_cache(&mut self, spec: CacheSpec) -> Result<CacheId, SimError> {
        self.caches.push(KeyedCache::new(spec)?);
        Ok(CacheId(self.caches.len() - 1))
    }

    /// Adds an operation taking `share` of the traffic (relative to the other
    /// operations' shares) along `pipeline`.
    ///
    /// # Errors
    /// [`SimError::UnknownId`] for an id of another service, [`SimError::Invalid`]
    /// for a negative share, an invalid distribution or more than 64 steps.
    pub fn add_operation(
        &mut self,
        name: impl Into<String>,
        share: f64,
        pipeline: Pipeline,
    ) -> Result<OpId, SimError> {
        if pipeline.steps.len() > MAX_STEPS {
            return Err(SimError::invalid(
                "pipeline length",
                pipeline.steps.len(),
                "use at most 64 steps",
            ));
        }
        for step in &pipeline.steps {
            match *step {
                Step::Acquire(s) => self.check_station(s).map(drop)?,
                Step::Serve(p, d) => {
                    self.check_processor(p)?;
                    d.validate()?;
                }
                Step::Delay(d) => d.validate()?,
                Step::Cache { cache, .. } => self.check_cache(cache).map(drop)?,
            }
        }
        let mut shares = self.shares.clone();
        shares.push(non_negative("operation share", share)?);
        let mix = Mix::new(&shares)?;
        self.shares = shares;
        self.mix = Some(mix);
        self.ops.push(Operation {
            name: name.into(),
            steps: pipeline.steps,
        });
        Ok(OpId(self.ops.len() - 1))
    }

    /// The name of an operation.
    pub fn operation_name(&self, op: OpId) -> Option<&str> {
        self.ops.get(op.0).map(|o| o.name.as_str())
    }

    /// The number of operations.
    pub fn operations(&self) -> usize {
        self.ops.len()
    }

    /// The current virtual time, in seconds.
    pub fn now(&self) -> f64 {
        self.kernel.now()
    }

    /// Requests arrived and not finished.
    pub fn in_flight(&self) -> usize {
        self.requests.len() - self.free.len()
    }

    /// Changes how arrivals cluster, keeping the rate.
    ///
    /// # Errors
    /// As [`Arrivals::new`].
    pub fn set_burstiness(&mut self, kind: Burstiness) -> Result<(), SimError> {
        let rate = self.arrivals.rate();
        let mut arrivals = Arrivals::new(kind)?;
        arrivals.set_rate(rate)?;
        self.arrivals = arrivals;
        self.reschedule_arrival()
    }

    /// Sets the mean arrival rate (requests per second, >= 0) from now on.
    /// Arrivals before the first operation is added are dropped.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for a negative or non-finite rate.
    pub fn set_rate(&mut self, rate: f64) -> Result<(), SimError> {
        self.arrivals.set_rate(rate)?;
        self.reschedule_arrival()
    }

    /// The mean arrival rate.
    pub fn rate(&self) -> f64 {
        self.arrivals.rate()
    }

    /// Replaces the operations' shares of the traffic (a mix shift), one per operation.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for the wrong count, a negative share or all zero.
    pub fn set_shares(&mut self, shares: &[f64]) -> Result<(), SimError> {
        if shares.len() != self.ops.len() {
            return Err(SimError::invalid(
                "number of shares",
                shares.len(),
                "give one share per operation, in the order they were added",
            ));
        }
        self.mix = Some(Mix::new(shares)?);
        self.shares = shares.to_vec();
        Ok(())
    }

    /// Sets the capacity of a limit (at once) or the size of a pool (a growth
    /// after its open delay; a shrink at once, busy holders finishing first).
    ///
    /// # Errors
    /// [`SimError::UnknownId`], or [`SimError::Invalid`] for 0.
    pub fn set_capacity(&mut self, station: StationId, capacity: usize) -> Result<(), SimError> {
        let now = self.kernel.now();
        let pool = self.check_station(station)?;
        match pool.resize(now, capacity)? {
            Some(pending) => self.kernel.schedule(
                pending.at,
                Event::Resize {
                    station: station.0,
                    generation: pending.generation,
                },
            ),
            None => {
                self.grant(station.0);
                self.run_ready()
            }
        }
    }

    /// A limit or pool: its size, target size, holders, queue and counters.
    ///
    /// # Errors
    /// [`SimError::UnknownId`].
    pub fn station(&self, station: StationId) -> Result<&Pool<u32>, SimError> {
        self.stations.get(station.0).ok_or(SimError::UnknownId {
            kind: "station",
            index: station.0,
        })
    }

    /// Sets a cache's capacity: shrinking evicts at once, growing lets misses fill it.
    ///
    /// # Errors
    /// [`SimError::UnknownId`].
    pub fn set_cache_capacity(&mut self, cache: CacheId, capacity: usize) -> Result<(), SimError> {
        self.check_cache(cache)?.lru.set_capacity(capacity);
        Ok(())
    }

    /// A cache: its capacity, entries and counters.
    ///
    /// # Errors
    /// [`SimError::UnknownId`].
    pub fn cache(&self, cache: CacheId) -> Result<&LruCache, SimError> {
        self.caches
            .get(cache.0)
            .map(|c| &c.lru)
            .ok_or(SimError::UnknownId {
                kind: "cache",
                index: cache.0,
            })
    }

    /// A processor: its active requests, speed and counters.
    ///
    /// # Errors
    /// [`SimError::UnknownId`].
    pub fn processor(&self, processor: ProcessorId) -> Result<&Processor<u32>, SimError> {
        self.processors.get(processor.0).ok_or(SimError::UnknownId {
            kind: "processor",
            index: processor.0,
        })
    }

    /// Slows a processor by `factor` from now on (1 is normal speed).
    ///
    /// # Errors
    /// [`SimError::UnknownId`], or [`SimError::Invalid`] for a non-positive factor.
    pub fn set_slowdown(&mut self, processor: ProcessorId, factor: f64) -> Result<(), SimError> {
        let now = self.kernel.now();
        let wake = self.check_processor(processor)?.set_slowdown(now, factor)?;
        self.schedule_wake(processor.0, wake)
    }

    /// Applies `interference` to a processor: each of its changes at its time
    /// (changes already past are applied now), unannounced to the driver.
    ///
    /// # Errors
    /// [`SimError::UnknownId`].
    pub fn interfere(
        &mut self,
        processor: ProcessorId,
        interference: &Interference,
    ) -> Result<(), SimError> {
        self.check_processor(processor)?;
        let now = self.kernel.now();
        self.set_slowdown(processor, interference.factor_at(now))?;
        for &(at, factor) in interference.changes() {
            if at > now {
                self.kernel.schedule(
                    at,
                    Event::Interfere {
                        processor: processor.0,
                        factor,
                    },
                )?;
            }
        }
        Ok(())
    }

    /// Simulates until virtual time `t` (a no-op if `t` is not after now).
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `t` is not finite.
    pub fn run_until(&mut self, t: f64) -> Result<(), SimError> {
        if !t.is_finite() {
            return Err(SimError::invalid(
                "run_until time",
                t,
                "use a finite virtual time",
            ));
        }
        while let Some((at, event)) = self.kernel.pop_until(t) {
            self.integrate(at);
            self.handle(event)?;
            self.run_ready()?;
        }
        self.integrate(t);
        Ok(())
    }

    /// Brings each station's time-integrated load up to `now`.
    fn integrate(&mut self, now: f64) {
        let dt = now - self.integrated_until;
        if dt <= 0.0 {
            return;
        }
        for (load, pool) in self.loads.iter_mut().zip(&self.stations) {
            let station = pool.station();
            load.busy_secs += station.in_use() as f64 * dt;
            load.waiting_secs += station.waiting() as f64 * dt;
        }
        self.integrated_until = now;
    }

    /// A station's tokens held and requests waiting, integrated over time since
    /// the start: the difference over a window divided by its length is the
    /// window's mean busy tokens and mean queue, and the difference of the
    /// tokens granted is its throughput (Little's law gives the holding time
    /// as mean busy over the rate of grants).
    ///
    /// # Errors
    /// [`SimError::UnknownId`].
    pub fn station_load(&self, station: StationId) -> Result<StationLoad, SimError> {
        let unknown = SimError::UnknownId {
            kind: "station",
            index: station.0,
        };
        let (Some(load), Some(pool)) = (self.loads.get(station.0), self.stations.get(station.0))
        else {
            return Err(unknown);
        };
        Ok(StationLoad {
            granted: pool.station().stats().admitted,
            ..*load
        })
    }

    /// The records of the requests finished since the last drain, in the order they finished.
    pub fn drain_records(&mut self) -> std::vec::Drain<'_, Record> {
        self.records.drain(..)
    }

    /// The records of the requests finished since the last drain, without removing them.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    fn check_station(&mut self, s: StationId) -> Result<&mut Pool<u32>, SimError> {
        self.stations.get_mut(s.0).ok_or(SimError::UnknownId {
            kind: "station",
            index: s.0,
        })
    }

    fn check_processor(&mut self, p: ProcessorId) -> Result<&mut Processor<u32>, SimError> {
        self.processors.get_mut(p.0).ok_or(SimError::UnknownId {
            kind: "processor",
            index: p.0,
        })
    }

    fn check_cache(&mut self, c: CacheId) -> Result<&mut KeyedCache, SimError> {
        self.caches.get_mut(c.0).ok_or(SimError::UnknownId {
            kind: "cache",
            index: c.0,
        })
    }

    fn reschedule_arrival(&mut self) -> Result<(), SimError> {
        self.arrival_generation += 1;
        self.schedule_arrival()
    }

    fn schedule_arrival(&mut self) -> Result<(), SimError> {
        let now = self.kernel.now();
        match self.arrivals.next(now, &mut self.rng_arrivals) {
            Some((at, count)) => self.kernel.schedule(
                at,
                Event::Arrival {
                    generation: self.arrival_generation,
                    count,
                },
            ),
            None => Ok(()),
        }
    }

    fn schedule_wake(&mut self, processor: usize, wake: Option<Wakeup>) -> Result<(), SimError> {
        match wake {
            Some(w) => self.kernel.schedule(
                w.at,
                Event::Wake {
                    processor,
                    generation: w.generation,
                },
            ),
            None => Ok(()),
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), SimError> {
        let now = self.kernel.now();
        match event {
            Event::Arrival { generation, count } => {
                if generation == self.arrival_generation {
                    self.arrive(now, count)?;
                }
            }
            Event::Timeout { station } => {
                self.timeout_pending[station] = false;
                while let Some(r) = self.stations[station].station_mut().expire_due(now) {
                    self.finish(r, Outcome::Timeout(StationId(station)));
                }
                self.schedule_timeout(station)?;
            }
            Event::Wake {
                processor,
                generation,
            } => {
                let done = self.processors[processor].complete(now, generation);
                self.schedule_wake(processor, done.next)?;
                self.ready.extend(done.item);
            }
            Event::DelayDone { request } => self.ready.push_back(request),
            Event::Resize {
                station,
                generation,
            } => {
                let applied = match self.stations.get_mut(station) {
                    Some(p) => p.apply(generation)?,
                    None => false,
                };
                if applied {
                    self.grant(station);
                }
            }
            Event::Interfere { processor, factor } => {
                self.set_slowdown(ProcessorId(processor), factor)?;
            }
        }
        Ok(())
    }

    /// The `count` requests of one arrival, then the next arrival.
    fn arrive(&mut self, now: f64, count: u32) -> Result<(), SimError> {
        for _ in 0..count {
            let Some(op) = self.mix.as_ref().map(|m| m.sample(&mut self.rng_arrivals)) else {
                break;
            };
            self.admit(op, now);
        }
        self.schedule_arrival()
    }

    fn admit(&mut self, op: usize, now: f64) {
        let request = Request {
            op: u32::try_from(op).unwrap_or(u32::MAX),
            step: 0,
            held: 0,
            arrival: now,
            cache: NO_CACHE,
            key: 0,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.requests[slot as usize] = request;
                slot
            }
            None => {
                self.requests.push(request);
                u32::try_from(self.requests.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.ready.push_back(slot);
    }

    fn run_ready(&mut self) -> Result<(), SimError> {
        while let Some(r) = self.ready.pop_front() {
            self.step(r)?;
        }
        Ok(())
    }

    /// Moves request `r` along its pipeline until it waits or ends.
    fn step(&mut self, r: u32) -> Result<(), SimError> {
        let now = self.kernel.now();
        loop {
            let req = self.requests[r as usize];
            let Some(&step) = self.ops[req.op as usize].steps.get(req.step as usize) else {
                self.finish(r, Outcome::Ok);
                return Ok(());
            };
            match step {
                Step::Acquire(s) => {
                    let pool = &mut self.stations[s.0];
                    match pool.station_mut().acquire(now, r) {
                        Admission::Granted => self.hold(r),
                        Admission::Queued(_) => return self.schedule_timeout(s.0),
                        Admission::Rejected => {
                            self.finish(r, Outcome::Rejected(s));
                            return Ok(());
                        }
                    }
                }
                Step::Serve(p, work) => {
                    let work = work.sample(&mut self.rng_work);
                    self.requests[r as usize].step += 1;
                    let wake = self.processors[p.0].start(now, r, work);
                    return self.schedule_wake(p.0, wake);
                }
                Step::Delay(d) => {
                    let at = now + d.sample(&mut self.rng_work);
                    self.requests[r as usize].step += 1;
                    return self.kernel.schedule(at, Event::DelayDone { request: r });
                }
                Step::Cache { cache, skip } => {
                    let c = &mut self.caches[cache.0];
                    let key = c.keys.sample(&mut self.rng_keys);
                    let req = &mut self.requests[r as usize];
                    if c.lru.lookup(key) {
                        req.step += 1 + u32::try_from(skip).unwrap_or(u32::MAX - req.step);
                    } else {
                        req.step += 1;
                        req.cache = u32::try_from(cache.0).unwrap_or(NO_CACHE);
                        req.key = key;
                    }
                }
            }
        }
    }

    /// Keeps one timeout event pending for `station` while requests wait there.
    fn schedule_timeout(&mut self, station: usize) -> Result<(), SimError> {
        if self.timeout_pending[station] {
            return Ok(());
        }
        match self.stations[station].station().next_deadline() {
            Some(at) => {
                self.timeout_pending[station] = true;
                self.kernel.schedule(at, Event::Timeout { station })
            }
            None => Ok(()),
        }
    }

    /// Request `r` got the token of its current (acquire) step.
    fn hold(&mut self, r: u32) {
        let req = &mut self.requests[r as usize];
        req.held |= 1 << req.step;
        req.step += 1;
    }

    /// Continues the requests that `station` can grant a token to now.
    fn grant(&mut self, station: usize) {
        let now = self.kernel.now();
        while let Some(g) = self.stations[station].station_mut().next_grant(now) {
            self.hold(g);
            self.ready.push_back(g);
        }
    }

    /// Ends request `r`: releases its tokens, fills the cache it missed, records it.
    fn finish(&mut self, r: u32, outcome: Outcome) {
        let now = self.kernel.now();
        let req = self.requests[r as usize];
        let mut held = req.held;
        while held != 0 {
            let i = 63 - held.leading_zeros() as usize;
            held &= !(1 << i);
            if let Some(&Step::Acquire(s)) = self.ops[req.op as usize].steps.get(i) {
                self.stations[s.0].station_mut().release();
                self.grant(s.0);
            }
        }
        if outcome == Outcome::Ok
            && let Some(c) = self.caches.get_mut(req.cache as usize)
        {
            c.lru.insert(req.key);
        }
        self.records.push(Record {
            op: OpId(req.op as usize),
            arrival: req.arrival,
            latency: now - req.arrival,
            outcome,
        });
        self.free.push(r);
    }
}
