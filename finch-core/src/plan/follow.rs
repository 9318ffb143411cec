//! Following the policy: the cheapest configuration known to have held in
//! the nearest workload context, put in force when an objective is violated,
//! ahead of a climbing load, or when the workload moves.

use std::collections::BTreeMap;

use super::{Context, Follow, Planner, Proposal, at_rise, forecast, policy};
use crate::decision::{DecisionKind, Intent};
use crate::monitor::Observation;

impl Planner {
    /// The configuration the policy holds for the current workload, applied
    /// to the movable searched knobs of `current`: all of them
    /// ([`Follow::Move`]), or, for a fix, only where it adds (a fix lowers no
    /// costly knob, nor moves a knob a way verification ruled out).
    pub(super) fn policy_target(
        &self,
        obs: &Observation,
        rise: f64,
        current: &[u64],
        follow: Follow,
    ) -> Option<(Vec<u64>, u32)> {
        let workload = obs
            .workload
            .iter()
            .map(|(k, &v)| (k.clone(), at_rise(k, v, rise)))
            .collect();
        let context = policy::context(&workload);
        let entry = match follow {
            Follow::Fix => self.policy.nearest(&context)?,
            Follow::Ahead | Follow::Move => self.policy.lookup(&context)?,
        };
        let fix = follow != Follow::Move;
        let mut target = current.to_vec();
        for (i, d) in self.space.dims.iter().enumerate() {
            if self.is_capacity(i) || !d.movable() {
                continue;
            }
            let want = *entry.point.get(i)?;
            let dir = d.direction(current[i], want);
            let keep = fix
                && want != current[i]
                && ((d.cost > 0.0 && dir < 0) || self.ruled_out((i, dir)));
            target[i] = if keep { current[i] } else { want };
        }
        (target != current).then_some((target, entry.windows))
    }

    /// A move to the configuration the policy holds for this workload; for
    /// a fix only where it adds, otherwise anywhere above a known floor. Its
    /// intent follows from its cost.
    /// With `rise` above 1, for the workload the rate is forecast to reach.
    pub(super) fn follow_policy(
        &self,
        ctx: &Context<'_>,
        current: &[u64],
        follow: Follow,
        rise: f64,
    ) -> Option<Proposal> {
        let (target, windows) = self.policy_target(ctx.obs, rise, current, follow)?;
        let (from, to) = (self.space.cost(current), self.space.cost(&target));
        // A fix adds what is missing: a configuration already as large in
        // every costly knob failed for another reason (moving free knobs back
        // would only take the windows a probe needs), and ahead of a load
        // free knobs follow it when it arrives. A move goes anywhere above a
        // known floor.
        let useful = match follow {
            Follow::Fix | Follow::Ahead => to > from,
            Follow::Move => !self.under_floor(&target),
        };
        if !useful {
            return None;
        }
        let intent = if to < from { Intent::Save } else { Intent::Fix };
        let changes: Vec<String> = self
            .space
            .dims
            .iter()
            .zip(current.iter().zip(&target))
            .filter(|(_, (a, b))| a != b)
            .map(|(d, (&a, &b))| {
                format!(
                    "`{}` {} → {}",
                    d.name(),
                    d.knob.erased().value_of(a),
                    d.knob.erased().value_of(b)
                )
            })
            .collect();
        Some(Proposal {
            target,
            kind: DecisionKind::Exploit,
            intent,
            reason: if rise > 1.0 {
                format!(
                    "the load is rising: {:.0} req/s forecast {} windows ahead; a workload like \
                     that was served within every objective for {windows} windows by: {} \
                     (cost {from:.2} → {to:.2})",
                    ctx.obs.total_rate() * rise,
                    forecast::HORIZON,
                    changes.join(", "),
                )
            } else {
                format!(
                    "a workload like this one ({:.0} req/s) was served within every objective \
                     for {windows} windows by: {} (cost {from:.2} → {to:.2})",
                    ctx.obs.total_rate(),
                    changes.join(", "),
                )
            },
            predicted_before: BTreeMap::new(),
            predicted_after: BTreeMap::new(),
            probe: Vec::new(),
        })
    }
}
