//! Capacity control from queueing, no model needed.
//!
//! A knob declared as a capacity (a connection pool, a concurrency limit, a
//! worker count; [`Config::capacity`](crate::Config::capacity)) names two
//! signals: the units busy on average over the window and the calls waiting
//! for one. By Little's law the busy units are the arrival rate times the
//! holding time, `R = λ·S`; square-root staffing sizes the capacity at
//! `R + β·√R`, which keeps the chance of waiting modest at any load. The
//! controller sizes it on a forecast of the rate (the last window's rise
//! carried one window forward), adds the units the waiting calls would hold
//! (feedback), and grows in one step as large as the jump needs. It shrinks
//! towards the same target once nothing has waited for a few windows.
//!
//! The holding time is the busy units over the units granted per second when
//! the capacity declares that throughput ([`Capacity::served`]), else over
//! the request rate (which overstates it while a backlog builds).
//!
//! Useful units: calls that hold their units longer than the shortest time
//! seen share what is behind the capacity (a database's cores), and more units
//! only share it further. Units busy in a window are the throughput times the
//! holding time, so the units the resource behind can use are its throughput
//! when the capacity is full times the shortest holding time (the
//! bandwidth-delay product): the same whether the resource is fast or slow.
//! While calls share it, the capacity grows to at most 1.5 times that.
//!
//! Contention: when a growth makes each call hold its unit longer in any of
//! the few windows after it (more connections slowing the database, which
//! can take a window or two to build up), the growth did not help; the controller
//! returns to the smaller size and does not grow past it again for a while,
//! whatever the load: units the resource behind cannot use do not become
//! useful under more load.
//!
//! Saturation (every unit busy, calls holding them far longer than they can):
//! the controller steps back to fewer units, and checks the step a few
//! windows later; if the calls hold their units as long as before and an
//! objective is still likely over its budget, the units were not the cause
//! (a CPU neighbour, a slower mix, a slower database), so it returns to the
//! size before and holds it there for a while: neither stepping back again
//! nor growing.

use std::collections::VecDeque;

use crate::config::Capacity;
use crate::monitor::Observation;

/// The largest growth per step on feedback alone.
const GROWTH: f64 = 1.5;
/// The largest growth per step when the rate jumped: more at once risks
/// contention nobody has measured yet.
const MAX_JUMP: f64 = 2.0;
/// Extra headroom (added to β) a shrink keeps, so that the size it shrinks to
/// is not one the next window's noise grows again (hysteresis).
const SHRINK_SLACK: f64 = 1.0;
/// Windows with nothing waiting before a capacity shrinks.
const QUIET_WINDOWS: u32 = 3;
/// A capacity only moves when the target differs by more than this share.
const DEADBAND: f64 = 0.15;
/// Holding time this much longer after a growth, at a similar rate, is contention.
const CONTENTION: f64 = 1.3;
/// Rates within this ratio count as similar.
const SIMILAR_RATE: f64 = 1.25;
/// Windows after a growth before its holding time is compared.
const SETTLE: u64 = 2;
/// Windows, from the first compared, over which a growth's holding time is
/// watched: contention past a database's useful concurrency can take a
/// window or two more to build up (slower calls keep more connections busy,
/// which slows them further).
const WATCH: u64 = 3;
/// Holding time this many times the shortest seen recently means the
/// resource behind the capacity is saturated: more units would only queue
/// there (or slow it down), so the capacity does not grow.
const SATURATED: f64 = 1.6;
/// A rate this many times higher or lower than the window before starts a
/// new regime for the holding times.
const REGIME_JUMP: f64 = 2.0;
/// A step back from saturation keeps this share of the units.
const STEP_BACK: f64 = 0.75;
/// How fast the shortest holding time seen is forgotten, per window.
const HOLD_MEMORY: f64 = 1.01;
/// Windows a contention ceiling lasts.
const CEILING_WINDOWS: u64 = 300;
/// Holding time this many times the shortest seen means the calls share
/// what is behind the capacity.
const SHARING: f64 = 1.2;
/// While calls share what is behind it, a capacity grows to at most this many
/// times the units that resource can use.
const USEFUL_GAIN: f64 = 1.5;
/// How much of the throughput seen when the capacity was full is kept per
/// window: a resource that got slower is followed.
const THROUGHPUT_MEMORY: f64 = 0.99;

/// The units granted per second: `served`, when declared and positive, else
/// the request rate.
fn granted(served: Option<f64>, rate: f64) -> f64 {
    served.filter(|x| x.is_finite() && *x > 0.0).unwrap_or(rate)
}

/// The time each call holds a unit: `busy` units over the units [`granted`]
/// per second.
fn holding_time(busy: f64, served: Option<f64>, rate: f64) -> f64 {
    busy / granted(served, rate)
}

/// `R + β·√R`, rounded up, at least 1.
fn staffing(busy: f64, beta: f64) -> f64 {
    let r = busy.max(0.0);
    (r + beta * r.sqrt()).ceil().max(1.0)
}

/// What the controller saw of the capacity in one window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Load {
    /// Requests per second over every SLO.
    pub(crate) rate: f64,
    /// Mean units busy.
    pub(crate) busy: f64,
    /// Mean calls waiting for a unit.
    pub(crate) waiting: f64,
    /// Units granted per second (the throughput through the capacity), if
    /// the capacity declares it.
    pub(crate) served: Option<f64>,
    /// The analysis reports an incident: the service got slower while its
    /// configuration and workload did not change.
    pub(crate) incident: bool,
    /// Some objective is more likely than not over its budget.
    pub(crate) breached: bool,
}

/// A growth whose holding time is still to be compared.
#[derive(Clone, Copy, Debug)]
struct Growth {
    from: f64,
    at: u64,
    rate: f64,
    hold: f64,
}

/// A step back from saturation whose holding time is still to be compared.
#[derive(Clone, Copy, Debug)]
struct StepBack {
    from: f64,
    at: u64,
    hold: f64,
}

/// A size not worth exceeding: growing past it made calls hold longer.
#[derive(Clone, Copy, Debug)]
struct Ceiling {
    size: f64,
    until: u64,
}

/// Sizes one capacity knob.
#[derive(Debug)]
pub(crate) struct Controller {
    pub(crate) dim: usize,
    spec: Capacity,
    rates: VecDeque<f64>,
    quiet: u32,
    growth: Option<Growth>,
    step_back: Option<StepBack>,
    /// No step back from saturation before this window (one was undone).
    keep_until: u64,
    ceiling: Option<Ceiling>,
    /// The shortest holding time seen, slowly forgotten.
    shortest_hold: Option<f64>,
    /// The size in force the last time calls held their units about as
    /// briefly as they can.
    normal_size: Option<f64>,
    /// The most units granted per second in a window where every unit was
    /// busy or calls waited, slowly forgotten.
    full_throughput: Option<f64>,
}

/// A move the controller wants, with its reason.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sizing {
    pub(crate) size: f64,
    pub(crate) grow: bool,
    pub(crate) reason: String,
}

impl Controller {
    pub(crate) fn new(dim: usize, spec: Capacity) -> Self {
        Controller {
            dim,
            spec,
            rates: VecDeque::new(),
            quiet: 0,
            growth: None,
            step_back: None,
            keep_until: 0,
            ceiling: None,
            shortest_hold: None,
            normal_size: None,
            full_throughput: None,
        }
    }

    /// The signals this capacity reads.
    pub(crate) fn spec(&self) -> &Capacity {
        &self.spec
    }

    /// This capacity's signals in window `obs`: its busy units (`None`
    /// without them), the calls waiting (0 when not declared) and the units
    /// granted per second (when declared).
    pub(crate) fn signals(&self, obs: &Observation) -> Option<(f64, f64, Option<f64>)> {
        let busy = obs.signals.get(&self.spec.busy).copied()?;
        let read = |name: &Option<String>| name.as_ref().and_then(|n| obs.signals.get(n).copied());
        Some((
            busy,
            read(&self.spec.waiting).unwrap_or(0.0),
            read(&self.spec.served),
        ))
    }

    /// The time each call held a unit in window `obs`; `None` while the
    /// capacity was nearly idle, its signals are missing, or its declared
    /// throughput was not positive.
    pub(crate) fn held(&self, obs: &Observation) -> Option<f64> {
        let (busy, _, served) = self.signals(obs)?;
        let rate = obs.total_rate();
        let usable = served.unwrap_or(rate);
        (busy >= 0.5 && busy.is_finite() && usable.is_finite() && usable > 0.0)
            .then(|| holding_time(busy, served, rate))
    }

    /// The units the resource behind the capacity can use: its throughput
    /// when the capacity was full times the shortest holding time; `None`
    /// before the capacity was ever full.
    fn usable(&self) -> Option<f64> {
        Some(self.full_throughput? * self.shortest_hold?)
    }

    /// The square-root staffing size for `busy` units: `R + β·√R`, at least 1.
    fn staffing(&self, busy: f64) -> f64 {
        staffing(busy, self.spec.headroom)
    }

    /// The size for this window given the size in force (`size`), or `None`
    /// to keep it. `seq` numbers windows; `settled` is false while the last
    /// change is still settling (then nothing moves).
    pub(crate) fn size(
        &mut self,
        seq: u64,
        size: f64,
        load: Load,
        settled: bool,
    ) -> Option<Sizing> {
        let previous = self.rates.back().copied().unwrap_or(load.rate);
        self.rates.push_back(load.rate);
        if self.rates.len() > 4 {
            self.rates.pop_front();
        }
        if !load.rate.is_finite()
            || load.rate <= 0.0
            || !load.busy.is_finite()
            || !load.waiting.is_finite()
        {
            return None;
        }
        // The rate jumped (more than doubled or halved): a new regime, whose
        // holding times are learned afresh. The shortest one seen before
        // (a quieter database, another mix) says nothing of saturation now.
        if load.rate > previous * REGIME_JUMP || load.rate * REGIME_JUMP < previous {
            self.shortest_hold = None;
            self.normal_size = None;
        }
        let hold = holding_time(load.busy, load.served, load.rate);
        let shortest = self
            .shortest_hold
            .map_or(hold, |h| (h * HOLD_MEMORY).min(hold));
        if load.busy >= 0.5 {
            self.shortest_hold = Some(shortest);
            // A size still watched after a growth has not shown it holds
            // normally: one light window right after it proves nothing.
            if self.growth.is_none() && hold <= shortest * CONTENTION {
                self.normal_size = Some(size);
            }
        }
        let waiting = load.waiting >= 0.5;
        let forgotten = self.full_throughput.map(|x| x * THROUGHPUT_MEMORY);
        if waiting || load.busy >= 0.9 * size {
            let now = granted(load.served, load.rate);
            self.full_throughput = Some(forgotten.map_or(now, |x| x.max(now)));
        } else {
            self.full_throughput = forgotten;
        }

        if let Some(g) = self.growth
            && seq >= g.at + SETTLE
        {
            if seq + 1 >= g.at + SETTLE + WATCH {
                self.growth = None;
            }
            let similar = load.rate <= g.rate * SIMILAR_RATE && load.rate >= g.rate / SIMILAR_RATE;
            if similar && hold > g.hold * CONTENTION && g.from < size {
                self.growth = None;
                self.ceiling = Some(Ceiling {
                    size: g.from,
                    until: seq + CEILING_WINDOWS,
                });
                return Some(Sizing {
                    size: g.from,
                    grow: false,
                    reason: format!(
                        "`{}`: growing {} → {size} made each call hold it {:.0} % longer \
                         ({:.1} → {:.1} ms) at a similar rate: contention; back to {}",
                        self.spec.knob,
                        g.from,
                        100.0 * (hold / g.hold - 1.0),
                        g.hold * 1e3,
                        hold * 1e3,
                        g.from
                    ),
                });
            }
        }
        // A step back that neither shortened the holding time nor brought the
        // objectives back within budget was wrong: the units were not what
        // slowed the calls (a CPU neighbour, a slower mix, a slower
        // database), and fewer of them only queue more. Back to the size
        // before, and no step back for a while; the calls still hold their
        // units too long for more of them to help, so no growth either.
        if let Some(b) = self.step_back
            && seq >= b.at + SETTLE
        {
            self.step_back = None;
            if load.breached && hold * CONTENTION > b.hold && b.from > size {
                self.ceiling = Some(Ceiling {
                    size: b.from,
                    until: seq + CEILING_WINDOWS,
                });
                self.keep_until = seq + CEILING_WINDOWS;
                return Some(Sizing {
                    size: b.from,
                    grow: true,
                    reason: format!(
                        "`{}`: stepping back {} → {size} left each call holding it as long \
                         ({:.1} → {:.1} ms): the units were not the bottleneck; back to {}",
                        self.spec.knob,
                        b.from,
                        b.hold * 1e3,
                        hold * 1e3,
                        b.from
                    ),
                });
            }
        }
        if self.ceiling.is_some_and(|c| seq >= c.until) {
            self.ceiling = None;
        }

        // Every unit busy and each call holding it far longer than it did at
        // a smaller size: the resource behind is saturated, and with fewer
        // units it contends less (a database past its useful concurrency).
        // Step back towards the last size that held normally and stay there
        // while the load is no heavier. A resource that got slower under an
        // unchanged size (an incident) is no reason to shrink.
        let saturated = self.shortest_hold.is_some_and(|h| hold > h * SATURATED);
        // Above the last size that held normally, or with no incident to
        // explain the slower calls, the units themselves are the cause.
        let grown = self.normal_size.is_none_or(|n| size > n);
        let normal = (grown || !load.incident).then(|| {
            self.normal_size
                .filter(|&n| grown && n < size)
                .unwrap_or(2.0)
        });
        if let Some(floor) = normal
            && saturated
            && settled
            && seq >= self.keep_until
            && load.busy >= 0.9 * size
            && size > 2.0
        {
            let back = (size * STEP_BACK).floor().max(floor).min(size - 1.0);
            self.ceiling = Some(Ceiling {
                size: back,
                until: seq + CEILING_WINDOWS,
            });
            self.growth = None;
            self.step_back = Some(StepBack {
                from: size,
                at: seq,
                hold,
            });
            return Some(Sizing {
                size: back,
                grow: false,
                reason: format!(
                    "`{}`: all {size} units busy and each call holds one {:.1}x longer than \
                     the shortest seen ({:.1} → {:.1} ms): what is behind it is saturated; \
                     back to {back}",
                    self.spec.knob,
                    hold / self.shortest_hold.unwrap_or(hold),
                    self.shortest_hold.unwrap_or(hold) * 1e3,
                    hold * 1e3,
                ),
            });
        }

        // Feed-forward on the rate one window ahead, feedback from waiting.
        let forecast = load.rate + (load.rate - previous).max(0.0);
        let demand = (load.busy + load.waiting) * forecast / load.rate;
        let mut target = self.staffing(demand);
        if waiting {
            let boost = (1.0 + load.waiting / load.busy.max(1.0)).min(2.0);
            target = target.max((size * boost).ceil());
            self.quiet = 0;
        } else {
            self.quiet += 1;
        }
        // Units the resource behind cannot use only share it further.
        let mut useful = None;
        if let Some(usable) = self.usable()
            && hold > shortest * SHARING
        {
            // Whole units, not rounded up past a product that is whole
            // but for the floating point.
            let most = (USEFUL_GAIN * usable - 1e-9).ceil().max(1.0);
            if target > most && target > size {
                useful = Some((most, usable));
                target = most.max(size);
            }
        }
        let mut capped = None;
        if let Some(c) = self.ceiling
            && target > c.size
        {
            capped = Some(c.size);
            target = c.size;
        }

        // Feedback grows at most half as much again per step (the next
        // windows show whether it sufficed, and whether holding times rose
        // with it); a jump in the rate is followed in one step, up to double.
        let jump = (forecast / previous.max(1e-9)).clamp(1.0, MAX_JUMP);
        target = target.min((size * GROWTH.max(jump)).ceil().max(size + 1.0));
        if target > size * (1.0 + DEADBAND) || (waiting && target > size) {
            // A growth still taking effect (connections opening) must not be
            // mistaken for a lack of capacity.
            if !settled {
                return None;
            }
            // Calls hold their units far longer than they can: what is behind
            // the capacity is saturated, and more units would make it worse.
            if saturated {
                return None;
            }
            self.growth = Some(Growth {
                from: size,
                at: seq,
                rate: load.rate,
                hold,
            });
            return Some(Sizing {
                size: target,
                grow: true,
                reason: format!(
                    "`{}`: {:.1} busy and {:.1} waiting at {:.0} req/s (forecast {:.0}): \
                     R + {:.1}·√R = {target}{}",
                    self.spec.knob,
                    load.busy,
                    load.waiting,
                    load.rate,
                    forecast,
                    self.spec.headroom,
                    useful.map_or_else(String::new, |(most, usable)| format!(
                        ", at most {most}: calls hold it {:.1}x the shortest time, so they \
                         share what is behind it, which can use {usable:.1} units",
                        hold / shortest
                    )),
                ),
            });
        }
        let floor = staffing(demand, self.spec.headroom + SHRINK_SLACK);
        if capped.is_none()
            && settled
            && self.quiet >= QUIET_WINDOWS
            && floor < size * (1.0 - DEADBAND)
            && size - floor >= 1.0
        {
            self.quiet = 0;
            let target = floor;
            return Some(Sizing {
                size: target,
                grow: false,
                reason: format!(
                    "`{}`: nothing waited for {QUIET_WINDOWS} windows, {:.1} busy at {:.0} req/s: \
                     R + {:.1}·√R = {target}",
                    self.spec.knob,
                    load.busy,
                    load.rate,
                    self.spec.headroom + SHRINK_SLACK
                ),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Controller {
        Controller::new(
            0,
            Capacity::new("pool", "pool.busy").waiting("pool.waiting"),
        )
    }

    /// `l` with `served` units granted per second.
    fn serving(served: f64, l: Load) -> Load {
        Load {
            served: Some(served),
            ..l
        }
    }

    fn load(rate: f64, busy: f64, waiting: f64) -> Load {
        Load {
            rate,
            busy,
            waiting,
            served: None,
            incident: false,
            breached: false,
        }
    }

    #[test]
    fn sizes_from_littles_law_with_square_root_headroom() {
        let mut c = pool();
        // 9 busy and 2 waiting at a steady rate: R = 11, 11 + 1.5·√11 = 15.97 → 16.
        let s = c.size(1, 11.0, load(900.0, 9.0, 2.0), true).expect("grows");
        assert_eq!(s.size, 16.0);
        // From 6 it grows by at most half as much again.
        let mut c = pool();
        let s = c.size(1, 6.0, load(900.0, 9.0, 2.0), true).expect("grows");
        assert_eq!(s.size, 9.0);
        // Unsettled, it waits.
        let mut c = pool();
        assert_eq!(c.size(1, 6.0, load(900.0, 9.0, 2.0), false), None);
        assert!(s.grow && s.reason.contains("9.0 busy"), "{}", s.reason);
    }

    #[test]
    fn a_rate_jump_is_covered_in_one_step() {
        let mut c = pool();
        assert_eq!(c.size(1, 6.0, load(200.0, 2.0, 0.0), true), None);
        // The rate tripled: the forecast carries the rise one window further.
        let s = c.size(2, 12.0, load(600.0, 6.0, 3.0), true).expect("grows");
        let demand = 9.0 * 1000.0 / 600.0;
        assert_eq!(s.size, (demand + 1.5 * f64::sqrt(demand)).ceil());
        // From far below, at most double.
        let mut c = pool();
        c.size(1, 3.0, load(200.0, 2.0, 0.0), true);
        let s = c.size(2, 3.0, load(600.0, 6.0, 3.0), true).expect("grows");
        assert_eq!(s.size, 6.0);
    }

    #[test]
    fn shrinks_only_after_quiet_windows_and_by_the_deadband() {
        let mut c = pool();
        for seq in 1..QUIET_WINDOWS as u64 {
            assert_eq!(c.size(seq, 40.0, load(100.0, 1.0, 0.0), true), None);
        }
        let s = c
            .size(QUIET_WINDOWS as u64, 40.0, load(100.0, 1.0, 0.0), true)
            .expect("shrinks");
        assert!(!s.grow);
        assert_eq!(s.size, 4.0, "1 + (1.5 + 1)·1 = 3.5 → 4");
        // Near its target nothing moves: no oscillation.
        let mut c = pool();
        for seq in 1..20 {
            assert_eq!(c.size(seq, 14.0, load(900.0, 8.5, 0.0), true), None);
        }
    }

    #[test]
    fn contention_sends_the_size_back_and_caps_it() {
        let mut c = pool();
        c.size(1, 8.0, load(1000.0, 8.0, 6.0), true).expect("grows");
        // Two windows later each call holds its connection twice as long.
        assert_eq!(c.size(2, 16.0, load(1000.0, 15.0, 0.0), false), None);
        let back = c
            .size(3, 16.0, load(1000.0, 16.0, 4.0), true)
            .expect("backs off");
        assert_eq!(back.size, 8.0);
        assert!(back.reason.contains("contention"), "{}", back.reason);
        // At the same load it does not grow past the ceiling again.
        let again = c.size(4, 8.0, load(1000.0, 8.0, 6.0), true);
        assert!(again.as_ref().is_none_or(|s| s.size <= 8.0), "{again:?}");
    }

    #[test]
    fn contention_that_builds_up_windows_after_a_growth_still_sends_it_back() {
        let mut c = pool();
        let busy = serving(730.0, load(1200.0, 6.1, 0.6));
        let grown = c.size(1, 9.0, busy, true).expect("grows");
        assert!(grown.size > 9.0, "{grown:?}");
        assert_eq!(
            c.size(2, grown.size, serving(700.0, load(1150.0, 6.4, 0.8)), false),
            None
        );
        // A light window at the new size shows nothing yet.
        let light = serving(640.0, load(1100.0, 4.2, 0.2));
        let s = c.size(3, grown.size, light, true);
        assert!(s.as_ref().is_none_or(|s| s.size >= grown.size), "{s:?}");
        // The window after, slower calls keep more connections busy, which
        // slows them further: twice the holding time at a similar rate, read
        // by the analysis as an incident. The growth is still to blame.
        let collapsing = Load {
            incident: true,
            ..serving(570.0, load(1010.0, 9.6, 0.0))
        };
        let back = c.size(4, grown.size, collapsing, true).expect("backs off");
        assert_eq!(back.size, 9.0);
        assert!(back.reason.contains("contention"), "{}", back.reason);
    }

    #[test]
    fn with_the_throughput_known_a_backlog_draining_onto_new_units_is_not_contention() {
        let mut c = pool();
        let before = serving(400.0, load(1000.0, 4.0, 20.0));
        c.size(1, 4.0, before, true).expect("grows");
        // All 6 busy at the same arrival rate: judged by the arrival rate each
        // call would seem to hold its unit 50 % longer; it serves 600/s.
        let after = serving(600.0, load(1000.0, 6.0, 10.0));
        let s = c.size(3, 6.0, after, true);
        assert!(s.as_ref().is_none_or(|s| s.size >= 6.0), "{s:?}");
    }

    #[test]
    fn a_saturated_resource_behind_the_capacity_stops_its_growth() {
        let mut c = pool();
        // 5 ms per call at first.
        assert_eq!(c.size(1, 8.0, load(1000.0, 5.0, 0.0), true), None);
        // Calls now hold their connection 2.4x longer and wait, with units
        // to spare: the database behind is saturated; growing the pool would
        // only add to it.
        assert_eq!(c.size(2, 16.0, load(1000.0, 12.0, 10.0), true), None);
    }

    /// A pool of 12 stepped back to 9 on window 2: calls held 5 ms, then,
    /// all 12 busy, 12 ms.
    fn stepped_back() -> Controller {
        let mut c = pool();
        assert_eq!(c.size(1, 8.0, load(1000.0, 5.0, 0.0), true), None);
        let back = c
            .size(2, 12.0, load(1000.0, 12.0, 30.0), true)
            .expect("steps back");
        assert_eq!(back.size, 9.0);
        assert!(back.reason.contains("saturated"), "{}", back.reason);
        c
    }

    #[test]
    fn a_saturated_capacity_steps_back_and_stays_there() {
        let mut c = stepped_back();
        // Recovered at 9: no growth back past it at that load.
        let s = c.size(3, 9.0, load(1000.0, 6.0, 1.0), true);
        assert!(s.as_ref().is_none_or(|s| s.size <= 9.0), "{s:?}");
    }

    #[test]
    fn a_step_back_that_does_not_shorten_the_holding_time_is_undone() {
        let mut c = stepped_back();
        // At 9 the calls still hold 12 ms (9 busy, 750 served a second) and
        // an objective is still likely over budget: the connections were not
        // the cause. After settling, back to 12.
        let same = Load {
            served: Some(750.0),
            breached: true,
            ..load(1000.0, 9.0, 60.0)
        };
        assert_eq!(c.size(3, 9.0, same, false), None);
        let undo = c.size(4, 9.0, same, true).expect("undoes the step back");
        assert_eq!(undo.size, 12.0);
        assert!(undo.grow);
        assert!(
            undo.reason.contains("not the bottleneck"),
            "{}",
            undo.reason
        );
        // Still saturated at 12: neither another step back nor a growth.
        let again = Load {
            breached: true,
            ..load(1000.0, 12.0, 30.0)
        };
        for seq in 6..12 {
            assert_eq!(c.size(seq, 12.0, again, true), None, "window {seq}");
        }
    }

    #[test]
    fn a_rush_on_a_slower_database_is_a_new_regime_not_saturation() {
        let mut c = pool();
        // 10 ms per call at 3 connections, 50 requests/s: normal.
        assert_eq!(c.size(1, 3.0, load(50.0, 0.5, 0.0), true), None);
        // The rate quadruples and the database is slower: each call holds 30
        // ms, every connection busy. Shrinking would only queue more.
        let rush = serving(100.0, load(220.0, 3.0, 4.0));
        for seq in 2..6 {
            let s = c.size(seq, 3.0, rush, true);
            assert!(s.as_ref().is_none_or(|s| s.size >= 3.0), "{s:?}");
        }
    }

    #[test]
    fn a_slower_resource_at_an_unchanged_size_is_no_reason_to_shrink() {
        let mut c = pool();
        assert_eq!(c.size(1, 6.0, load(500.0, 2.5, 0.0), true), None);
        // The database got 2.5x slower: every connection busy, no growth
        // preceded it, and the analysis calls it an incident.
        let slower = Load {
            incident: true,
            ..load(500.0, 6.0, 3.0)
        };
        let s = c.size(2, 6.0, slower, true);
        assert!(s.as_ref().is_none_or(|s| s.size >= 6.0), "{s:?}");
    }

    /// A pool in front of a database whose calls take 5 ms alone: full at 4
    /// connections, 3.8 busy serving 760 calls a second (settling, so it
    /// does not grow yet).
    fn full_at_four() -> Controller {
        let mut c = pool();
        let full = serving(760.0, load(760.0, 3.8, 1.0));
        assert_eq!(c.size(1, 4.0, full, false), None);
        c
    }

    #[test]
    fn a_capacity_grows_no_further_than_what_is_behind_it_can_use() {
        let mut c = full_at_four();
        // At 6 connections the database still serves 760 a second, each
        // call now holding its connection 7.9 ms: it is shared. It can use
        // 760/s × 5 ms = 3.8 connections; 1.5 × 3.8 = 5.7, so 6.
        let shared = serving(760.0, load(900.0, 6.0, 3.0));
        for seq in 3..6 {
            assert_eq!(c.size(seq, 6.0, shared, true), None, "window {seq}");
        }
        // Below that, it grows to it and says why it stops there.
        let mut c = full_at_four();
        let five = serving(760.0, load(900.0, 5.0, 4.0));
        let s = c.size(3, 5.0, five, true).expect("grows");
        assert_eq!(s.size, 6.0);
        assert!(s.reason.contains("at most 6"), "{}", s.reason);
        assert!(s.reason.contains("3.8 units"), "{}", s.reason);
    }

    #[test]
    fn units_that_hold_calls_no_longer_than_the_shortest_time_grow_freely() {
        let mut c = full_at_four();
        // The load doubled and calls still take 5 ms: the database has room,
        // only the units are short, so Little's law sizes them as before.
        let more = serving(1140.0, load(1600.0, 5.7, 4.0));
        let s = c.size(3, 6.0, more, true).expect("grows");
        assert!(s.size > 6.0, "{s:?}");
        assert!(!s.reason.contains("at most"), "{}", s.reason);
    }

    #[test]
    fn signals_that_are_not_numbers_move_nothing_and_teach_nothing() {
        let mut c = full_at_four();
        let bad = [
            load(f64::NAN, 4.0, 1.0),
            load(f64::INFINITY, 4.0, 1.0),
            load(0.0, 4.0, 1.0),
            load(800.0, f64::NAN, 1.0),
            load(800.0, 4.0, f64::INFINITY),
            serving(f64::NAN, load(800.0, 4.0, 1.0)),
            serving(0.0, load(800.0, 4.0, 1.0)),
        ];
        for (seq, l) in (2..).zip(bad) {
            let s = c.size(seq, 6.0, l, true);
            assert!(
                s.as_ref()
                    .is_none_or(|s| s.size.is_finite() && s.size >= 1.0),
                "{l:?}: {s:?}"
            );
        }
        // What it learned before is intact: shared at 6, it still stops there.
        let shared = serving(760.0, load(900.0, 6.0, 3.0));
        assert_eq!(c.size(20, 6.0, shared, true), None);
        // Nor does a window without usable signals count as a holding time.
        let obs = |rate: f64, signals: &[(&str, f64)]| Observation {
            instance: String::new(),
            seq: 21,
            at_ms: 0,
            length_secs: 1.0,
            generation: 0,
            clean: true,
            knobs: Default::default(),
            workload: [("api/rate".to_string(), rate)].into(),
            signals: signals.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
            slis: Default::default(),
        };
        assert_eq!(c.held(&obs(800.0, &[])), None);
        assert_eq!(c.held(&obs(800.0, &[("pool.busy", f64::NAN)])), None);
        assert_eq!(c.held(&obs(0.0, &[("pool.busy", 3.0)])), None, "no calls");
        assert_eq!(c.held(&obs(800.0, &[("pool.busy", 4.0)])), Some(0.005));
    }

    #[test]
    fn quiet_traffic_never_grows_a_capacity() {
        let mut c = pool();
        for seq in 1..50 {
            let s = c.size(seq, 4.0, load(5.0, 0.05, 0.0), true);
            assert!(s.as_ref().is_none_or(|s| !s.grow), "{s:?}");
        }
    }
}
