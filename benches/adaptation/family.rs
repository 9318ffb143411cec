//! A simulated service as a subject of the proving ground: its knobs and SLOs
//! registered with finch like any service's, a `finch::lab::sim::Service` built
//! fresh for every run, one window of virtual time per `window` call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use finch::lab::sim::{Service, SimError, StationId, StationLoad};
use finch::lab::{
    ArmKind, BoxError, Call, Configuration, KnobAxis, Operation, Run, Subject, WindowOutcome,
    WindowPlan, apply, current,
};
use finch::monitor::{BoxFuture, Signal, SignalError, SignalSource};
use finch::slo::SloRef;
use finch::{Capacity, Config, Knob, KnobBuilder, Objective, Outcome, SloBuilder};

/// A knob of a simulated service, and the grid the static arms sweep.
pub(crate) struct KnobDef {
    pub(crate) name: &'static str,
    pub(crate) default: u32,
    pub(crate) min: u32,
    pub(crate) max: u32,
    pub(crate) cost: f64,
    pub(crate) log: bool,
    pub(crate) grid: &'static [u32],
    pub(crate) doc: &'static str,
}

impl KnobDef {
    /// The knob's share of its range, as finch counts cost (log scale for log knobs).
    fn unit(&self, v: f64) -> f64 {
        let (lo, hi) = (f64::from(self.min), f64::from(self.max));
        let v = v.clamp(lo, hi);
        if self.log {
            (v / lo).ln() / (hi / lo).ln()
        } else {
            (v - lo) / (hi - lo)
        }
    }
}

/// An operation and its objectives (finch's SLO and the harness's judge alike).
pub(crate) struct OpDef {
    pub(crate) name: &'static str,
    pub(crate) objectives: Vec<Objective>,
}

/// What a model of a service must say about itself.
pub(crate) trait Model {
    /// The service's name (the prefix of its knobs and SLOs).
    fn name(&self) -> &'static str;
    fn knobs(&self) -> Vec<KnobDef>;
    fn operations(&self) -> Vec<OpDef>;
    /// The capacity knobs, each with the station whose load it sizes (the
    /// station's signals are `<service>.<station>.busy` and `.waiting`).
    fn capacities(&self) -> Vec<(&'static str, &'static str, StationId)>;
    /// Capacities that stay a multiple of another: (knob, of knob, factor).
    fn couplings(&self) -> Vec<(&'static str, &'static str, f64)> {
        Vec::new()
    }
    /// A fresh simulation for one run.
    fn build(&mut self, seed: u64) -> Result<Service, SimError>;
    /// Puts the knobs' values (read from finch's knobs, `values[i]` for
    /// `knobs()[i]`) and the active faults into the simulation at time `now`.
    fn configure(
        &mut self,
        svc: &mut Service,
        now: f64,
        values: &[u32],
        faults: &[(&str, f64)],
    ) -> Result<(), SimError>;
}

/// A model running as a subject of the proving ground.
pub(crate) struct Simulated<M: Model> {
    model: M,
    defs: Vec<KnobDef>,
    knobs: Vec<Arc<Knob<u32>>>,
    slos: Vec<SloRef>,
    ops: Vec<OpDef>,
    svc: Option<Service>,
    /// Each capacity station's integrated load at the start of the window.
    loads: Vec<StationLoad>,
    signals: Stations,
}

/// The stations' mean busy units and waiting calls over the last window, as
/// finch's signal source `<service>`: what a real service's pool would report.
#[derive(Clone)]
struct Stations {
    name: &'static str,
    latest: Arc<Mutex<Vec<Signal>>>,
}

impl SignalSource for Stations {
    fn name(&self) -> &str {
        self.name
    }

    fn sample(&self) -> BoxFuture<'_, Result<Vec<Signal>, SignalError>> {
        let latest = self.latest.lock().map(|v| v.clone()).unwrap_or_default();
        Box::pin(async move { Ok(latest) })
    }
}

impl<M: Model> Simulated<M> {
    /// Registers the model's knobs and SLOs with finch.
    pub(crate) fn new(model: M) -> Result<Self, finch::Error> {
        let defs = model.knobs();
        let ops = model.operations();
        let mut knobs = Vec::with_capacity(defs.len());
        for d in &defs {
            let mut b = KnobBuilder::new(d.name, d.default)
                .bounds(d.min, d.max)
                .cost(d.cost)
                .doc(d.doc);
            if d.log {
                b = b.log();
            }
            knobs.push(b.register()?);
        }
        let mut slos = Vec::with_capacity(ops.len());
        for op in &ops {
            let mut b = SloBuilder::new(format!("{}.{}", model.name(), op.name));
            for o in &op.objectives {
                b = match *o {
                    Objective::Latency {
                        quantile,
                        threshold,
                    } => b.latency(quantile, threshold),
                    Objective::Errors { max } => b.errors(max),
                };
            }
            slos.push(b.register()?);
        }
        let signals = Stations {
            name: model.name(),
            latest: Arc::new(Mutex::new(Vec::new())),
        };
        Ok(Simulated {
            model,
            defs,
            knobs,
            slos,
            ops,
            svc: None,
            loads: Vec::new(),
            signals,
        })
    }

    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.defs.iter().map(|d| d.name)
    }
}

impl<M: Model> Subject for Simulated<M> {
    fn operations(&self) -> Vec<Operation> {
        self.ops
            .iter()
            .map(|o| Operation {
                name: o.name.to_string(),
                objectives: o.objectives.clone(),
            })
            .collect()
    }

    fn knobs(&self) -> Vec<KnobAxis> {
        self.defs
            .iter()
            .map(|d| KnobAxis {
                name: d.name.to_string(),
                default: f64::from(d.default),
                grid: d.grid.iter().map(|&v| f64::from(v)).collect(),
            })
            .collect()
    }

    fn cost(&self, config: &Configuration) -> f64 {
        self.defs
            .iter()
            .map(|d| d.cost * d.unit(config.get(d.name).copied().unwrap_or(f64::from(d.default))))
            .sum()
    }

    fn finch_config(&self, _: &Run<'_>) -> Option<Config> {
        let mut config = Config::default()
            .knobs(self.names())
            .slos(self.slos.iter().map(|s| s.name().to_string()))
            .process_signals(false)
            .signal(self.signals.clone());
        let service = self.model.name();
        let couplings = self.model.couplings();
        for (knob, station, _) in self.model.capacities() {
            let mut capacity = Capacity::new(knob, format!("{service}.{station}.busy"))
                .waiting(format!("{service}.{station}.waiting"))
                .served(format!("{service}.{station}.served"));
            if let Some(&(_, of, factor)) = couplings.iter().find(|c| c.0 == knob) {
                capacity = capacity.at_least(of, factor);
            }
            config = config.capacity(capacity);
        }
        Some(config)
    }

    async fn set_up(&mut self, run: &Run<'_>) -> Result<(), BoxError> {
        self.svc = Some(self.model.build(run.seed)?);
        self.loads = vec![StationLoad::default(); self.model.capacities().len()];
        let defaults: Configuration = self
            .defs
            .iter()
            .map(|d| (d.name.to_string(), f64::from(d.default)))
            .collect();
        match run.kind {
            ArmKind::Static { config } => apply(config),
            ArmKind::Finch { .. } => apply(&defaults),
        }
    }

    async fn window(
        &mut self,
        run: &Run<'_>,
        plan: &WindowPlan,
        calls: &mut Vec<Call>,
    ) -> Result<WindowOutcome, BoxError> {
        let svc = self.svc.as_mut().ok_or("window before set_up")?;
        let names: Vec<&str> = self.ops.iter().map(|o| o.name).collect();
        let shares = plan.shares(run.scenario, &names);
        let faults: Vec<(&str, f64)> = plan
            .faults
            .iter()
            .filter_map(|&i| run.scenario.faults.get(i))
            .map(|f| (f.kind.as_str(), f.magnitude))
            .collect();
        let values: Vec<u32> = self.knobs.iter().map(|k| k.get()).collect();
        let now = svc.now();
        self.model.configure(svc, now, &values, &faults)?;
        svc.set_shares(&shares)?;
        svc.set_rate(plan.rate)?;
        let length = plan.length.as_secs_f64();
        svc.run_until(now + length)?;
        let mut signals = Vec::new();
        for ((_, station, id), last) in self.model.capacities().into_iter().zip(&mut self.loads) {
            let load = svc.station_load(id)?;
            signals.push(Signal::internal(
                format!("{station}.busy"),
                (load.busy_secs - last.busy_secs) / length,
            ));
            signals.push(Signal::internal(
                format!("{station}.waiting"),
                (load.waiting_secs - last.waiting_secs) / length,
            ));
            signals.push(Signal::internal(
                format!("{station}.served"),
                load.granted.saturating_sub(last.granted) as f64 / length,
            ));
            *last = load;
        }
        if let Ok(mut latest) = self.signals.latest.lock() {
            *latest = signals;
        }
        for r in svc.drain_records() {
            let op = r.op.index();
            let ok = r.is_ok();
            if let Some(slo) = self.slos.get(op) {
                let outcome = if ok { Outcome::Ok } else { Outcome::Error };
                slo.record(Duration::from_secs_f64(r.latency), outcome);
            }
            calls.push(Call {
                op,
                at: r.arrival,
                latency: r.latency,
                ok,
            });
        }
        Ok(WindowOutcome {
            config: current(self.names()),
            decision: None,
        })
    }
}
