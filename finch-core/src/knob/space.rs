//! The configuration space: every managed knob as an axis normalized to 0..=1
//! (log-scaled where declared), its cost, and candidate generation inside a trust
//! region. Every point leaving this module is snapped to valid knob values, so a
//! plan can never hold a value outside a knob's bounds.

use std::collections::HashSet;

use rand::{Rng, RngExt};

use crate::knob::{KnobKind, KnobRef};

/// One knob as an axis of the space.
pub(crate) struct Dim {
    pub(crate) knob: KnobRef,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    log: bool,
    pub(crate) cost: f64,
    frozen: bool,
}

impl Dim {
    fn new(knob: KnobRef, frozen: bool) -> Self {
        let k = knob.erased();
        let (mut lo, mut hi) = (k.position_of(k.min_bits()), k.position_of(k.max_bits()));
        if knob.kind() == KnobKind::Choice {
            lo = 0.0;
            hi = (knob.choices().len().max(1) - 1) as f64;
        }
        let log = k.is_log() && lo > 0.0;
        Dim {
            lo,
            hi,
            log,
            cost: k.cost(),
            frozen,
            knob,
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.knob.name()
    }

    /// The loop may move this knob now (not frozen, not pinned, not fixed).
    pub(crate) fn movable(&self) -> bool {
        !self.frozen && !self.knob.is_pinned() && self.hi > self.lo
    }

    /// Position on the knob's axis → 0..=1.
    pub(crate) fn normalize(&self, x: f64) -> f64 {
        if self.hi <= self.lo || !x.is_finite() {
            return 0.0;
        }
        let u = if self.log {
            (x.max(self.lo).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (x - self.lo) / (self.hi - self.lo)
        };
        u.clamp(0.0, 1.0)
    }

    fn denormalize(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        if self.log {
            (self.lo.ln() + u * (self.hi.ln() - self.lo.ln())).exp()
        } else {
            self.lo + u * (self.hi - self.lo)
        }
    }

    pub(crate) fn position(&self, bits: u64) -> f64 {
        self.knob.erased().position_of(bits)
    }

    pub(crate) fn unit(&self, bits: u64) -> f64 {
        self.normalize(self.position(bits))
    }

    /// Which way a move from `from` to `to` goes along the axis: 1 up, -1
    /// down (or nowhere).
    pub(crate) fn direction(&self, from: u64, to: u64) -> i8 {
        if self.unit(to) > self.unit(from) {
            1
        } else {
            -1
        }
    }

    /// The valid value nearest to normalized position `u`.
    pub(crate) fn snap(&self, u: f64) -> Option<u64> {
        self.knob.erased().snap(self.denormalize(u))
    }

    /// One move from `bits` by `share` of the range in direction `dir` (+1/-1),
    /// at least one valid step; `None` at the bound.
    pub(crate) fn step(&self, bits: u64, dir: f64, share: f64) -> Option<u64> {
        let u = self.unit(bits);
        let mut delta = share;
        while delta <= 1.0 {
            let target = (u + dir * delta).clamp(0.0, 1.0);
            let next = self.snap(target)?;
            if next != bits && (self.unit(next) - u) * dir > 0.0 {
                return Some(next);
            }
            if target <= 0.0 || target >= 1.0 {
                return None;
            }
            delta += share.max(1e-3);
        }
        None
    }

    /// Whether lowering this knob from `from` to `to` is a cautious cut: at
    /// most `share` of a log range, or a quarter (`2 × share`) of the value, or
    /// half a `share` of the range. Raising is always cautious; free knobs are
    /// never cut. An integer knob whose one unit is more than half a `share`
    /// of its range cannot take a cautious cut near its minimum (3 → 2 over
    /// 1..=16 with the default share); allowing one unit always was measured
    /// and reverted (BENCHMARKS.md, "Where the cost goes").
    pub(crate) fn gentle_cut(&self, from: u64, to: u64, share: f64) -> bool {
        let (ua, ub) = (self.unit(from), self.unit(to));
        if self.cost <= 0.0 || ub >= ua {
            return true;
        }
        if self.knob.erased().is_log() {
            return ua - ub <= share + 1e-9;
        }
        let (pa, pb) = (self.position(from), self.position(to));
        ua - ub <= share / 2.0 + 1e-9 || (pa > 0.0 && pb >= pa * (1.0 - 2.0 * share))
    }
}

/// Every managed knob as an axis.
pub(crate) struct Space {
    pub(crate) dims: Vec<Dim>,
}

impl Space {
    pub(crate) fn new(knobs: &[KnobRef], frozen: &dyn Fn(&str) -> bool) -> Self {
        Space {
            dims: knobs
                .iter()
                .map(|k| Dim::new(k.clone(), frozen(k.name())))
                .collect(),
        }
    }

    /// The dimension of the knob named `name`, if it is in the space.
    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        self.dims.iter().position(|d| d.name() == name)
    }

    /// The encodings in force.
    pub(crate) fn current(&self) -> Vec<u64> {
        self.dims.iter().map(|d| d.knob.erased().bits()).collect()
    }

    /// Normalized coordinates of a point.
    pub(crate) fn units(&self, point: &[u64]) -> Vec<f64> {
        self.dims
            .iter()
            .zip(point)
            .map(|(d, &b)| d.unit(b))
            .collect()
    }

    /// Cost of a point: the sum over knobs of cost weight × normalized position.
    pub(crate) fn cost(&self, point: &[u64]) -> f64 {
        self.dims
            .iter()
            .zip(point)
            .map(|(d, &b)| d.cost * d.unit(b))
            .sum()
    }

    /// Whether every costly knob's move from `from` to `to` is a cautious cut
    /// (see [`Dim::gentle_cut`]).
    pub(crate) fn gentle_cut(&self, from: &[u64], to: &[u64], share: f64) -> bool {
        self.dims
            .iter()
            .zip(from.iter().zip(to))
            .all(|(d, (&a, &b))| d.gentle_cut(a, b, share))
    }

    /// Whether no costly knob is lower at `to` than at `from`.
    pub(crate) fn no_cut(&self, from: &[u64], to: &[u64]) -> bool {
        self.dims
            .iter()
            .zip(from.iter().zip(to))
            .all(|(d, (&a, &b))| d.cost <= 0.0 || d.unit(b) >= d.unit(a) - 1e-9)
    }

    /// Cost of the most expensive point.
    pub(crate) fn max_cost(&self) -> f64 {
        self.dims.iter().map(|d| d.cost).sum()
    }

    /// Up to `n` distinct valid points within `radius` (normalized) of `center`
    /// on each movable axis, `center` first: a line of levels along every axis,
    /// then random points moving one, two or every axis.
    pub(crate) fn candidates(
        &self,
        center: &[u64],
        radius: f64,
        n: usize,
        rng: &mut impl Rng,
    ) -> Vec<Vec<u64>> {
        let mut seen: HashSet<Vec<u64>> = HashSet::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        let mut push = |p: Vec<u64>, out: &mut Vec<Vec<u64>>| {
            if out.len() < n && seen.insert(p.clone()) {
                out.push(p);
            }
        };
        push(center.to_vec(), &mut out);
        let movable: Vec<usize> = (0..self.dims.len())
            .filter(|&i| self.dims[i].movable())
            .collect();
        if movable.is_empty() {
            return out;
        }
        let units = self.units(center);
        const LEVELS: usize = 8;
        for &i in &movable {
            for k in 1..=LEVELS {
                for dir in [-1.0, 1.0] {
                    let u = units[i] + dir * radius * k as f64 / LEVELS as f64;
                    if let Some(b) = self.dims[i].snap(u) {
                        let mut p = center.to_vec();
                        p[i] = b;
                        push(p, &mut out);
                    }
                }
            }
        }
        let mut attempts = 0;
        while out.len() < n && attempts < n * 4 {
            attempts += 1;
            let moves = match rng.random_range(0..3u8) {
                0 => 1,
                1 => 2.min(movable.len()),
                _ => movable.len(),
            };
            let mut p = center.to_vec();
            for _ in 0..moves {
                let i = movable[rng.random_range(0..movable.len())];
                let u = units[i] + rng.random_range(-radius..=radius);
                if let Some(b) = self.dims[i].snap(u) {
                    p[i] = b;
                }
            }
            push(p, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::KnobBuilder;
    use crate::knob::knob_by_name;

    fn space(names: &[&str]) -> Space {
        let knobs: Vec<KnobRef> = names.iter().map(|n| knob_by_name(n).unwrap()).collect();
        Space::new(&knobs, &|_| false)
    }

    #[test]
    fn candidates_are_valid_distinct_and_inside_the_trust_region() {
        KnobBuilder::new("test.space.workers", 8u32)
            .bounds(1, 64)
            .cost(1.0)
            .register()
            .unwrap();
        KnobBuilder::new("test.space.cache", 64.0f64)
            .bounds(1.0, 4096.0)
            .log()
            .cost(0.5)
            .register()
            .unwrap();
        let s = space(&["test.space.workers", "test.space.cache"]);
        let center = s.current();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let cands = s.candidates(&center, 0.25, 500, &mut rng);
        assert_eq!(cands[0], center);
        assert!(cands.len() > 100, "{}", cands.len());
        let uniq: HashSet<_> = cands.iter().collect();
        assert_eq!(uniq.len(), cands.len());
        let cu = s.units(&center);
        for c in &cands {
            for (i, d) in s.dims.iter().enumerate() {
                assert!(d.knob.erased().check_bits(c[i]).is_ok());
                // one valid step of slack for snapping to integers
                assert!((d.unit(c[i]) - cu[i]).abs() <= 0.25 + 1.0 / 63.0 + 1e-9);
            }
        }
        assert!(s.cost(&center) > 0.0 && s.cost(&center) < s.max_cost());
    }

    #[test]
    fn a_step_always_moves_at_least_one_valid_value_and_stops_at_bounds() {
        KnobBuilder::new("test.space.small", 2u8)
            .bounds(1, 4)
            .register()
            .unwrap();
        let s = space(&["test.space.small"]);
        let d = &s.dims[0];
        let two = 2u8 as u64;
        assert_eq!(d.step(two, 1.0, 0.01), Some(3));
        assert_eq!(d.step(two, -1.0, 0.01), Some(1));
        assert_eq!(d.step(4, 1.0, 0.2), None);
        assert_eq!(d.step(1, -1.0, 0.2), None);
    }
}
