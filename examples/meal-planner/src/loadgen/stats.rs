//! Client-side measurements per window: latency from each action's *intended*
//! start (so a slow service cannot hide its queueing), by kind.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::scenario::Kind;

/// Quantiles of a set of latencies, in seconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Quantiles {
    fn of(sorted: &[f64]) -> Option<Self> {
        let at = |q: f64| {
            let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted.get(i).copied().unwrap_or(0.0)
        };
        (!sorted.is_empty()).then(|| Quantiles {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
        })
    }
}

/// One kind of action in one window.
#[derive(Clone, Debug, Default, Serialize)]
pub struct KindWindow {
    /// Actions completed.
    pub completed: u64,
    /// Actions that failed (a non-2xx, a transport error, a timeout).
    pub errors: u64,
    /// Latency quantiles of the completed actions.
    pub latency: Option<Quantiles>,
}

/// What the load generator saw in one window.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientWindow {
    /// Window length, in seconds.
    pub secs: f64,
    /// Actions started.
    pub started: u64,
    /// Actions completed.
    pub completed: u64,
    /// Actions that failed.
    pub errors: u64,
    /// Arrivals not sent because too many actions were in flight.
    pub dropped: u64,
    /// HTTP requests sent.
    pub requests: u64,
    /// Latency quantiles over all completed actions.
    pub latency: Option<Quantiles>,
    /// By kind.
    pub kinds: BTreeMap<Kind, KindWindow>,
}

impl ClientWindow {
    /// Actions started per second.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.started as f64 / self.secs
        } else {
            0.0
        }
    }
}

#[derive(Default)]
struct Raw {
    started: u64,
    dropped: u64,
    requests: u64,
    all: Vec<f64>,
    kinds: BTreeMap<Kind, (Vec<f64>, u64)>,
    errors: u64,
}

/// Collects measurements; [`take`](Self::take) closes a window.
#[derive(Default)]
pub struct Recorder {
    raw: Mutex<Raw>,
    opened: Mutex<Option<std::time::Instant>>,
    /// Every latency of the run by kind, for [`run_latency`](Self::run_latency).
    run: Mutex<BTreeMap<Kind, Vec<f64>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    fn raw(&self) -> std::sync::MutexGuard<'_, Raw> {
        self.raw.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn started(&self) {
        self.raw().started += 1;
    }

    pub(crate) fn dropped(&self) {
        self.raw().dropped += 1;
    }

    pub(crate) fn finished(&self, kind: Kind, latency: Duration, requests: u32, ok: bool) {
        let secs = latency.as_secs_f64();
        self.run
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_default()
            .push(secs);
        let mut raw = self.raw();
        raw.requests += u64::from(requests);
        raw.all.push(secs);
        let entry = raw.kinds.entry(kind).or_default();
        entry.0.push(secs);
        if !ok {
            entry.1 += 1;
            raw.errors += 1;
        }
    }

    /// Latency quantiles of each kind over every action finished so far (all
    /// windows together).
    pub fn run_latency(&self) -> BTreeMap<Kind, Quantiles> {
        let run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        run.iter()
            .filter_map(|(kind, latencies)| {
                let mut sorted = latencies.clone();
                sorted.sort_by(f64::total_cmp);
                Quantiles::of(&sorted).map(|q| (*kind, q))
            })
            .collect()
    }

    /// Closes the current window and returns what it saw.
    pub fn take(&self) -> ClientWindow {
        let now = std::time::Instant::now();
        let secs = {
            let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
            let secs = opened.map_or(0.0, |t| now.duration_since(t).as_secs_f64());
            *opened = Some(now);
            secs
        };
        let raw = std::mem::take(&mut *self.raw());
        let mut all = raw.all;
        all.sort_by(f64::total_cmp);
        let kinds = raw
            .kinds
            .into_iter()
            .map(|(k, (mut l, errors))| {
                l.sort_by(f64::total_cmp);
                let w = KindWindow {
                    completed: l.len() as u64,
                    errors,
                    latency: Quantiles::of(&l),
                };
                (k, w)
            })
            .collect();
        ClientWindow {
            secs,
            started: raw.started,
            completed: all.len() as u64,
            errors: raw.errors,
            dropped: raw.dropped,
            requests: raw.requests,
            latency: Quantiles::of(&all),
            kinds,
        }
    }
}
