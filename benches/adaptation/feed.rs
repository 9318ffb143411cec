//! `feed`: pages and thumbnails rendered on a 4-core CPU behind a worker limit;
//! more workers than cores thrash (context switches slow the work). Prefetching
//! makes page rendering cheaper, but only 15 s after it changes (the prefetched
//! set takes that long to turn over). A CPU-hungry neighbour can appear.

use std::time::Duration;

use finch::lab::sim::{
    Contention, DelayLine, Dist, Pipeline, ProcessorId, ProcessorSpec, Service, SimError,
    StationId, StationSpec,
};
use finch::{Objective, Quantile};

use super::family::{KnobDef, Model, OpDef};

/// Seconds before a prefetch change shows.
const PREFETCH_DELAY: f64 = 15.0;

#[derive(Default)]
pub(crate) struct Feed {
    ids: Option<(StationId, ProcessorId)>,
    prefetch: Option<DelayLine<u32>>,
}

impl Model for Feed {
    fn name(&self) -> &'static str {
        "feed"
    }

    fn knobs(&self) -> Vec<KnobDef> {
        vec![
            KnobDef {
                name: "feed.workers",
                default: 3,
                min: 1,
                max: 64,
                cost: 1.0,
                log: true,
                grid: &[2, 3, 4, 6, 8, 12, 16],
                doc: "requests rendered at once",
            },
            KnobDef {
                name: "feed.prefetch",
                default: 0,
                min: 0,
                max: 8,
                cost: 0.6,
                log: false,
                grid: &[0, 2, 4, 8],
                doc: "pages prefetched per request (effect after 15 s)",
            },
        ]
    }

    fn operations(&self) -> Vec<OpDef> {
        vec![
            OpDef {
                name: "page",
                objectives: vec![
                    Objective::Latency {
                        quantile: Quantile::P95,
                        threshold: Duration::from_millis(60),
                    },
                    Objective::Errors { max: 0.01 },
                ],
            },
            OpDef {
                name: "thumb",
                objectives: vec![Objective::Latency {
                    quantile: Quantile::P99,
                    threshold: Duration::from_millis(40),
                }],
            },
        ]
    }

    fn capacities(&self) -> Vec<(&'static str, &'static str, StationId)> {
        self.ids.map_or_else(Vec::new, |(workers, _)| {
            vec![("feed.workers", "workers", workers)]
        })
    }

    fn build(&mut self, seed: u64) -> Result<Service, SimError> {
        let mut svc = Service::new(seed);
        let workers = svc.add_limit(StationSpec::new(3).timeout(0.3).queue_limit(3000))?;
        let cpu = svc.add_processor(ProcessorSpec::database(4, Contention::new(0.25, 2.0)?))?;
        svc.add_operation(
            "page",
            0.6,
            Pipeline::new()
                .acquire(workers)
                .serve(cpu, Dist::lognormal_p99(0.008, 3.0)?),
        )?;
        svc.add_operation(
            "thumb",
            0.4,
            Pipeline::new()
                .acquire(workers)
                .serve(cpu, Dist::exp(0.002)?),
        )?;
        self.ids = Some((workers, cpu));
        self.prefetch = None;
        Ok(svc)
    }

    fn configure(
        &mut self,
        svc: &mut Service,
        now: f64,
        values: &[u32],
        faults: &[(&str, f64)],
    ) -> Result<(), SimError> {
        let Some((workers, cpu)) = self.ids else {
            return Ok(());
        };
        svc.set_capacity(workers, values.first().copied().unwrap_or(1) as usize)?;
        let wanted = values.get(1).copied().unwrap_or(0);
        // The run starts with the configuration's prefetch already in effect.
        let prefetch = match &mut self.prefetch {
            Some(line) => line,
            None => self
                .prefetch
                .insert(DelayLine::new(PREFETCH_DELAY, wanted)?),
        };
        prefetch.set(now, wanted);
        let effect = 1.0 - 0.05 * f64::from(*prefetch.value_at(now));
        let neighbour = faults
            .iter()
            .find(|(k, _)| *k == "cpu-neighbour")
            .map_or(1.0, |f| f.1);
        svc.set_slowdown(cpu, effect * neighbour)
    }
}
