//! Monitor: each interval, drain every SLO's window and sample every signal into
//! one [`Observation`].

mod observation;
mod occupancy;
mod process;
mod signals;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use observation::{Observation, sli_key, workload_key};
pub use occupancy::{Held, Occupancy, Usage};
pub(crate) use process::ProcessSampler;
pub use signals::{Signal, SignalError, SignalRole, SignalSource};

use crate::knob::KnobRef;
use crate::slo::{SloReader, SloRef, SloWindow};

/// One SLO's window with the SLIs of its objectives (`None`: too few calls to
/// read the quantile or the ratio).
pub(crate) struct SloSample {
    pub(crate) slo: SloRef,
    /// This window alone: what health and change detection count.
    pub(crate) fresh: SloWindow,
    /// This window pooled with the quiet ones before it: what the SLIs read.
    pub(crate) window: SloWindow,
    pub(crate) slis: Vec<Option<f64>>,
}

/// Windows with too few calls to read an SLI value are pooled with the
/// following ones, up to this many, so a quiet service is still measured (over
/// a longer span). Health does not depend on it: it is judged on counts.
const MAX_POOLED: u32 = 8;

/// The calls a window needs for its SLI values (the model's targets) to mean
/// something: as many as make one bad call expected at the objectives' budgets
/// (100 for a p99, 20 for a p95, 100 for a 1 % error ratio).
fn min_calls(slo: &SloRef) -> u64 {
    slo.objectives()
        .iter()
        .map(|o| (1.0 / o.budget()).ceil() as u64)
        .max()
        .unwrap_or(1)
}

/// Windows pooled so far for one SLO, under the knob values they ran with.
struct Pooled {
    window: SloWindow,
    windows: u32,
    bits: Vec<u64>,
}

pub(crate) struct Monitor {
    readers: Vec<SloReader>,
    pooled: Vec<Option<Pooled>>,
    sources: Vec<Arc<dyn SignalSource>>,
    process: Option<ProcessSampler>,
    last: Instant,
    seq: u64,
    window_bits: Vec<u64>,
    /// The managed knobs, and how many changes each had when the window began.
    knobs: Vec<KnobRef>,
    window_changes: Vec<u64>,
}

/// How many changes each knob had so far.
fn changes(knobs: &[KnobRef]) -> Vec<u64> {
    knobs.iter().map(|k| k.erased().changes()).collect()
}

impl Monitor {
    pub(crate) fn new(
        slos: &[SloRef],
        sources: Vec<Arc<dyn SignalSource>>,
        process_signals: bool,
        knobs: Vec<KnobRef>,
        bits: Vec<u64>,
    ) -> Self {
        Monitor {
            window_changes: changes(&knobs),
            knobs,
            readers: slos.iter().map(SloRef::reader).collect(),
            pooled: slos.iter().map(|_| None).collect(),
            sources,
            process: process_signals.then(ProcessSampler::new),
            last: Instant::now(),
            seq: 0,
            window_bits: bits,
        }
    }

    /// Continues numbering after observations loaded from knowledge.
    pub(crate) fn resume_after(&mut self, seq: u64) {
        self.seq = self.seq.max(seq);
    }

    /// Marks the start of the next window with the knob values in force, after
    /// the executor has published its changes. A change published later (an
    /// operator's pin, a `Knob::set`) falls in the window and makes it mixed.
    pub(crate) fn start_window(&mut self, bits: Vec<u64>) {
        self.window_bits = bits;
        self.window_changes = changes(&self.knobs);
    }

    /// Closes the window: drains every SLO, samples every signal.
    /// `nominal` is the window length to use (manual ticks), else the time
    /// elapsed; `knobs` and `bits` are the configuration in force at its end.
    /// A window during which any knob changed ran under two configurations:
    /// it is not clean, and it is pooled with no other.
    pub(crate) async fn observe(
        &mut self,
        nominal: Option<Duration>,
        timeout: Duration,
        knobs: BTreeMap<String, f64>,
        bits: Vec<u64>,
        instance: &str,
    ) -> (Observation, Vec<SloSample>) {
        let now = Instant::now();
        let length = nominal.unwrap_or_else(|| now.duration_since(self.last));
        self.last = now;
        self.seq += 1;
        let clean = bits == self.window_bits && changes(&self.knobs) == self.window_changes;

        let mut obs = Observation {
            instance: instance.to_string(),
            seq: self.seq,
            at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            length_secs: length.as_secs_f64(),
            generation: crate::knob::snapshot().generation(),
            clean,
            knobs,
            workload: BTreeMap::new(),
            signals: BTreeMap::new(),
            slis: BTreeMap::new(),
        };

        let mut samples = Vec::with_capacity(self.readers.len());
        for (reader, pooled) in self.readers.iter_mut().zip(&mut self.pooled) {
            let fresh = reader.drain(length);
            // A window too quiet to measure is pooled with the next ones (under
            // the same knob values): the SLIs then cover the pooled span.
            let (window, windows) = match pooled.take() {
                Some(p) if clean && p.bits == self.window_bits => {
                    (p.window.merge(fresh.clone()), p.windows + 1)
                }
                _ => (fresh.clone(), 1),
            };
            let length = window.length;
            let min_calls = min_calls(reader.slo());
            if clean && window.calls < min_calls && windows < MAX_POOLED {
                *pooled = Some(Pooled {
                    window: window.clone(),
                    windows,
                    bits: self.window_bits.clone(),
                });
            }
            let slo = reader.slo().clone();
            let secs = length.as_secs_f64().max(1e-9);
            obs.workload
                .insert(workload_key(slo.name()), window.started as f64 / secs);
            obs.signals
                .insert(format!("{}/in_flight", slo.name()), window.in_flight as f64);
            obs.signals
                .insert(format!("{}/calls", slo.name()), window.calls as f64);
            obs.signals
                .insert(format!("{}/errors", slo.name()), window.errors as f64);
            obs.signals
                .insert(format!("{}/busy", slo.name()), window.handler_secs() / secs);
            let enough = window.calls >= min_calls || (windows >= MAX_POOLED && window.calls > 0);
            let slis: Vec<Option<f64>> = slo
                .objectives()
                .iter()
                .map(|o| if enough { o.sli(&window) } else { None })
                .collect();
            for (o, sli) in slo.objectives().iter().zip(&slis) {
                if let Some(v) = sli {
                    obs.slis.insert(sli_key(slo.name(), o), *v);
                }
            }
            samples.push(SloSample {
                slo,
                fresh,
                window,
                slis,
            });
        }

        if let Some(p) = &mut self.process {
            for s in p.sample(length) {
                obs.insert_signal(s);
            }
        }
        for source in &self.sources {
            match tokio::time::timeout(timeout, source.sample()).await {
                Ok(Ok(signals)) => {
                    for mut s in signals {
                        s.name = format!("{}.{}", source.name(), s.name);
                        obs.insert_signal(s);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(source = source.name(), error = %crate::error::Chain(&*e), "finch: signal source failed");
                }
                Err(_) => {
                    tracing::warn!(source = source.name(), "finch: signal source timed out");
                }
            }
        }
        (obs, samples)
    }
}
