//! Exploring without a trusted model: one knob, one small step at a time
//! (a free knob not known to help riding along on a costly step), up for a
//! fix and down for a saving, in an order that tries knobs known to help
//! first and never a direction ruled out.

use std::fmt::Write as _;

use super::{PATIENCE_WINDOWS, Planner, Proposal, SEVERE};
use crate::decision::Intent;

impl Planner {
    /// One step towards fixing a violated objective (worst margin `worst`,
    /// for the reason `why` the model cannot plan it): the first knob, in
    /// order of known help then cost, with a step its range allows and a
    /// direction not ruled out.
    pub(super) fn explore_fix(
        &mut self,
        current: &[u64],
        worst: f64,
        why: &str,
    ) -> Option<Proposal> {
        let mut order: Vec<usize> = (0..self.space.dims.len())
            .filter(|&i| self.space.dims[i].movable())
            .collect();
        order.sort_by(|&a, &b| {
            let rank = |i: usize| -> (u8, f64) {
                let d = &self.space.dims[i];
                let tier = if self.helpful.contains_key(&i) {
                    0
                } else if d.cost > 0.0 {
                    1
                } else {
                    2
                };
                (tier, -d.cost)
            };
            let (ta, ca) = rank(a);
            let (tb, cb) = rank(b);
            ta.cmp(&tb).then(ca.total_cmp(&cb))
        });
        let share = if worst <= SEVERE {
            self.max_step
        } else {
            self.explore_step
        };
        let patient = self
            .improved_at
            .is_some_and(|at| self.seq < at + PATIENCE_WINDOWS);
        for i in order {
            let d = &self.space.dims[i];
            if patient && !self.helpful.contains_key(&i) {
                // A fix just helped and no knob known to help can move
                // further: let the backlog drain before judging other knobs.
                return None;
            }
            let Some((dir, bits)) = self.first_step(i, current, share) else {
                continue;
            };
            let mut target = current.to_vec();
            target[i] = bits;
            let mut reason = format!(
                "objective violated (worst margin {:+.0}%) and {why}: \
                 exploring one step {} on `{}` ({} → {})",
                worst * 100.0,
                if dir > 0 { "up" } else { "down" },
                d.name(),
                d.knob.erased().value_of(current[i]),
                d.knob.erased().value_of(bits),
            );
            let mut probe = vec![(i, dir)];
            // A free knob not yet known to help rides along with a costly
            // step: trying it costs nothing, and a lever without a cost
            // is otherwise only reached once every costly knob is spent.
            if d.cost > 0.0
                && let Some((j, free_dir, free_bits)) = self.free_rider(current, share)
            {
                let f = &self.space.dims[j];
                target[j] = free_bits;
                probe.push((j, free_dir));
                let _ = write!(
                    reason,
                    ", with free `{}` {} → {}",
                    f.name(),
                    f.knob.erased().value_of(current[j]),
                    f.knob.erased().value_of(free_bits),
                );
            }
            return Some(Proposal::explore(target, Intent::Fix, reason, probe));
        }
        None
    }

    /// The first exploratory step knob `i` can take from `current`: the way
    /// it helped before, else up (costly) or either way (free), a direction
    /// not ruled out, and a step the knob's range allows.
    pub(super) fn first_step(&self, i: usize, current: &[u64], share: f64) -> Option<(i8, u64)> {
        let d = &self.space.dims[i];
        let dirs: &[i8] = match self.helpful.get(&i) {
            Some(1) => &[1],
            Some(_) => &[-1],
            None if d.cost > 0.0 => &[1],
            None => &[1, -1],
        };
        dirs.iter().find_map(|&dir| {
            if self.tabu_dir.contains_key(&(i, dir)) {
                return None;
            }
            d.step(current[i], f64::from(dir), share)
                .map(|bits| (dir, bits))
        })
    }

    /// A free knob not known to help and the first step it can take.
    pub(super) fn free_rider(&self, current: &[u64], share: f64) -> Option<(usize, i8, u64)> {
        (0..self.space.dims.len()).find_map(|j| {
            let f = &self.space.dims[j];
            if !f.movable() || f.cost > 0.0 || self.helpful.contains_key(&j) {
                return None;
            }
            self.first_step(j, current, share)
                .map(|(dir, bits)| (j, dir, bits))
        })
    }

    /// One step down on the knob that costs most where it stands, of those not
    /// ruled out that can go down without falling under a configuration found
    /// inadequate, while every objective holds with room to spare (worst margin
    /// `worst`).
    pub(super) fn explore_save(
        &mut self,
        current: &[u64],
        worst: f64,
        why: &str,
    ) -> Option<Proposal> {
        let mut order: Vec<usize> = (0..self.space.dims.len())
            .filter(|&i| self.space.dims[i].movable() && self.space.dims[i].cost > 0.0)
            .filter(|&i| !self.tabu_dir.contains_key(&(i, -1)))
            .collect();
        let weight = |i: usize| self.space.dims[i].cost * self.space.dims[i].unit(current[i]);
        order.sort_by(|&a, &b| weight(b).total_cmp(&weight(a)));
        for i in order {
            let d = &self.space.dims[i];
            let cautious = [1.0, 0.5, 0.25, 0.125].into_iter().find_map(|f| {
                d.step(current[i], -1.0, self.explore_step * f)
                    .filter(|&b| d.gentle_cut(current[i], b, self.explore_step))
            });
            let Some(bits) = cautious else {
                continue;
            };
            let mut target = current.to_vec();
            target[i] = bits;
            if self.under_floor(&target) {
                continue;
            }
            let reason = format!(
                "every objective holds with {:+.0}% margin and {why}: \
                 exploring one step down on `{}` to lower cost ({} → {})",
                worst * 100.0,
                d.name(),
                d.knob.erased().value_of(current[i]),
                d.knob.erased().value_of(bits),
            );
            return Some(Proposal::explore(
                target,
                Intent::Save,
                reason,
                vec![(i, -1)],
            ));
        }
        None
    }
}
