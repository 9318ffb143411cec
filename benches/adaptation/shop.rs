//! `shop`: reads through an LRU cache over Zipf keys, misses and writes through
//! a concurrency limit and a connection pool to a 4-core database that slows
//! down when too many connections are active. A pool grows only as its new
//! connections open (2 s); a grown cache warms up as misses fill it. Two knobs
//! do nothing: a costly one and a free one.

use std::time::Duration;

use finch::lab::sim::{
    CacheId, CacheSpec, Contention, Dist, Pipeline, PoolSpec, ProcessorId, ProcessorSpec, Service,
    SimError, StationId, StationSpec,
};
use finch::{Objective, Quantile};

use super::family::{KnobDef, Model, OpDef};

pub(crate) const READ_P99: Duration = Duration::from_millis(40);
pub(crate) const WRITE_P95: Duration = Duration::from_millis(50);

#[derive(Default)]
pub(crate) struct Shop {
    ids: Option<(StationId, StationId, CacheId, ProcessorId)>,
}

impl Model for Shop {
    fn name(&self) -> &'static str {
        "shop"
    }

    fn knobs(&self) -> Vec<KnobDef> {
        vec![
            KnobDef {
                name: "shop.pool",
                default: 6,
                min: 2,
                max: 64,
                cost: 1.0,
                log: false,
                grid: &[4, 6, 8, 12, 16],
                doc: "database connections",
            },
            KnobDef {
                name: "shop.limit",
                default: 16,
                min: 4,
                max: 256,
                cost: 0.1,
                log: true,
                grid: &[16, 48],
                doc: "requests admitted to the database path at once",
            },
            KnobDef {
                name: "shop.cache",
                default: 2000,
                min: 1000,
                max: 64000,
                cost: 1.0,
                log: true,
                grid: &[1000, 4000, 16000, 32000, 64000],
                doc: "entries of the read cache",
            },
            KnobDef {
                name: "shop.audit_workers",
                default: 4,
                min: 1,
                max: 16,
                cost: 0.5,
                log: false,
                grid: &[1],
                doc: "audit log workers (no effect on latency)",
            },
            KnobDef {
                name: "shop.log_sample",
                default: 10,
                min: 0,
                max: 100,
                cost: 0.0,
                log: false,
                grid: &[10],
                doc: "percent of requests logged (free, no effect)",
            },
        ]
    }

    fn operations(&self) -> Vec<OpDef> {
        vec![
            OpDef {
                name: "read",
                objectives: vec![Objective::Latency {
                    quantile: Quantile::P99,
                    threshold: READ_P99,
                }],
            },
            OpDef {
                name: "write",
                objectives: vec![
                    Objective::Latency {
                        quantile: Quantile::P95,
                        threshold: WRITE_P95,
                    },
                    Objective::Errors { max: 0.01 },
                ],
            },
        ]
    }

    fn capacities(&self) -> Vec<(&'static str, &'static str, StationId)> {
        self.ids.map_or_else(Vec::new, |(limit, pool, ..)| {
            vec![("shop.pool", "pool", pool), ("shop.limit", "limit", limit)]
        })
    }

    fn build(&mut self, seed: u64) -> Result<Service, SimError> {
        let mut svc = Service::new(seed);
        let limit = svc.add_limit(StationSpec::new(16).timeout(0.5).queue_limit(4000))?;
        let pool = svc.add_pool(PoolSpec::new(6).timeout(0.25).open_delay(2.0))?;
        let db = svc.add_processor(ProcessorSpec::database(4, Contention::new(0.6, 2.0)?))?;
        let cache = svc.add_cache(CacheSpec {
            keys: 200_000,
            zipf_s: 0.9,
            capacity: 2000,
        })?;
        let front = Dist::exp(0.0005)?;
        svc.add_operation(
            "read",
            0.8,
            Pipeline::new().delay(front).cache(
                cache,
                Pipeline::new()
                    .acquire(limit)
                    .acquire(pool)
                    .serve(db, Dist::lognormal_p99(0.004, 4.0)?),
            ),
        )?;
        svc.add_operation(
            "write",
            0.2,
            Pipeline::new()
                .delay(front)
                .acquire(limit)
                .acquire(pool)
                .serve(db, Dist::lognormal_p99(0.006, 4.0)?),
        )?;
        self.ids = Some((limit, pool, cache, db));
        Ok(svc)
    }

    fn configure(
        &mut self,
        svc: &mut Service,
        _now: f64,
        values: &[u32],
        faults: &[(&str, f64)],
    ) -> Result<(), SimError> {
        let Some((limit, pool, cache, db)) = self.ids else {
            return Ok(());
        };
        let get = |i: usize| values.get(i).copied().unwrap_or(1) as usize;
        svc.set_capacity(pool, get(0))?;
        svc.set_capacity(limit, get(1))?;
        svc.set_cache_capacity(cache, get(2))?;
        let slow = faults
            .iter()
            .find(|(k, _)| *k == "db-slow")
            .map_or(1.0, |f| f.1);
        svc.set_slowdown(db, slow)
    }
}
