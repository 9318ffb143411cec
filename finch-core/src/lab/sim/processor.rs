//! A processor-sharing server on `k` cores: the CPU stage of an application or
//! the cores of a database.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::database::Contention;
use super::error::{SimError, positive};

/// The parameters of a [`Processor`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessorSpec {
    /// The number of cores (>= 1).
    pub cores: usize,
    /// The slowdown with many active requests ([`Contention::NONE`] for a plain CPU).
    pub contention: Contention,
}

impl ProcessorSpec {
    /// An application's CPU: `cores` cores, no contention.
    pub fn cpu(cores: usize) -> Self {
        Self {
            cores,
            contention: Contention::NONE,
        }
    }
}

/// When to call [`Processor::complete`] next, with the generation to pass it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wakeup {
    /// The virtual time of the next completion.
    pub at: f64,
    /// The generation; a wakeup superseded by a later one is ignored.
    pub generation: u64,
}

/// What [`Processor::complete`] found at a wakeup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Completion<T> {
    /// The request that completed, if one did.
    pub item: Option<T>,
    /// The next wakeup to schedule, if a new one is needed.
    pub next: Option<Wakeup>,
}

/// Work left below this (relative to the attained work) counts as done.
const EPSILON: f64 = 1e-9;

/// A processor-sharing server: the `n` active requests share `cores` cores,
/// each progressing at `min(1, cores / n) / (contention(n) · slowdown)`
/// seconds of work per second, where `slowdown` (>= 1 slower, 1 normal) is the
/// interference of a noisy neighbour or an unannounced episode.
///
/// The caller schedules every [`Wakeup`] returned and calls
/// [`Processor::complete`] at its time; the processor keeps one virtual clock of
/// attained work, so every event costs O(log n). A change that delays the next
/// completion returns no wakeup: the one outstanding fires early and
/// [`Processor::complete`] then returns the later one.
#[derive(Debug, Clone)]
pub struct Processor<T> {
    spec: ProcessorSpec,
    slowdown: f64,
    attained: f64,
    last: f64,
    seq: u64,
    generation: u64,
    scheduled: Option<f64>,
    jobs: BinaryHeap<Job<T>>,
    completed: u64,
}

#[derive(Debug, Clone)]
struct Job<T> {
    finish: f64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Job<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T> Eq for Job<T> {}

impl<T> PartialOrd for Job<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Job<T> {
    /// Reversed, so that the max-heap pops the job that finishes first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .finish
            .total_cmp(&self.finish)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl<T> Processor<T> {
    /// An idle processor at normal speed.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for 0 cores.
    pub fn new(spec: ProcessorSpec) -> Result<Self, SimError> {
        if spec.cores == 0 {
            return Err(SimError::invalid(
                "processor cores",
                spec.cores,
                "use at least 1 core",
            ));
        }
        Contention::new(spec.contention.alpha, spec.contention.per_core)?;
        Ok(Self {
            spec,
            slowdown: 1.0,
            attained: 0.0,
            last: 0.0,
            seq: 0,
            generation: 0,
            scheduled: None,
            jobs: BinaryHeap::new(),
            completed: 0,
        })
    }

    /// The parameters.
    pub fn spec(&self) -> ProcessorSpec {
        self.spec
    }

    /// Requests in service now.
    pub fn active(&self) -> usize {
        self.jobs.len()
    }

    /// Requests completed since creation.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// The current slowdown factor.
    pub fn slowdown(&self) -> f64 {
        self.slowdown
    }

    /// The seconds of work each active request gets per second now.
    pub fn speed(&self) -> f64 {
        self.speed_with(self.jobs.len())
    }

    fn speed_with(&self, n: usize) -> f64 {
        let k = self.spec.cores as f64;
        let share = if n as f64 > k { k / n as f64 } else { 1.0 };
        share / (self.spec.contention.multiplier(n, self.spec.cores) * self.slowdown)
    }

    fn advance(&mut self, now: f64) {
        if !self.jobs.is_empty() && now > self.last {
            self.attained += (now - self.last) * self.speed();
        }
        self.last = self.last.max(now);
    }

    /// A wakeup for the next completion, unless the outstanding one is no later.
    fn wakeup(&mut self) -> Option<Wakeup> {
        let top = self.jobs.peek()?;
        let left = (top.finish - self.attained).max(0.0);
        let at = self.last + left / self.speed();
        if self.scheduled.is_some_and(|s| s <= at) {
            return None;
        }
        self.generation += 1;
        self.scheduled = Some(at);
        Some(Wakeup {
            at,
            generation: self.generation,
        })
    }

    /// Starts serving `item`, which needs `work` seconds of one core at full
    /// speed (negative work counts as 0). Schedule the returned wakeup.
    #[must_use = "schedule the wakeup, or no request on this processor completes"]
    pub fn start(&mut self, now: f64, item: T, work: f64) -> Option<Wakeup> {
        self.advance(now);
        self.seq += 1;
        self.jobs.push(Job {
            finish: self.attained + work.max(0.0),
            seq: self.seq,
            item,
        });
        self.wakeup()
    }

    /// Changes the slowdown factor at `now` (1 normal, 2 half speed). Schedule the returned wakeup.
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `slowdown` is not finite and positive.
    pub fn set_slowdown(&mut self, now: f64, slowdown: f64) -> Result<Option<Wakeup>, SimError> {
        let slowdown = positive("processor slowdown", slowdown)?;
        self.advance(now);
        self.slowdown = slowdown;
        Ok(self.wakeup())
    }

    /// At the time of a wakeup: the request that completes, if any, and the
    /// next wakeup to schedule; nothing for a superseded wakeup.
    pub fn complete(&mut self, now: f64, generation: u64) -> Completion<T> {
        if generation != self.generation {
            return Completion {
                item: None,
                next: None,
            };
        }
        self.scheduled = None;
        self.advance(now);
        let due = self
            .jobs
            .peek()
            .is_some_and(|j| j.finish <= self.attained + EPSILON * self.attained.abs().max(1.0));
        let item = if due {
            self.completed += 1;
            self.jobs.pop().map(|j| j.item)
        } else {
            None
        };
        Completion {
            item,
            next: self.wakeup(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(p: &mut Processor<u32>, mut w: Option<Wakeup>) -> Vec<(u32, f64)> {
        let mut out = Vec::new();
        while let Some(wake) = w {
            let done = p.complete(wake.at, wake.generation);
            out.extend(done.item.map(|item| (item, wake.at)));
            w = done.next;
        }
        out
    }

    #[test]
    fn processor_sharing_on_two_cores() -> Result<(), SimError> {
        let mut p = Processor::new(ProcessorSpec::cpu(2))?;
        let w = p.start(0.0, 1, 1.0);
        assert_eq!(p.start(0.0, 2, 1.0), None, "the first wakeup is no later");
        assert_eq!(p.start(0.0, 3, 1.0), None);
        // Three jobs of 1 s on 2 cores progress at 2/3: all finish at 1.5 s,
        // after an early wakeup at 1 s.
        let done = drain(&mut p, w);
        assert_eq!(done.len(), 3);
        for (_, at) in done {
            assert!((at - 1.5).abs() < 1e-9, "{at}");
        }
        Ok(())
    }

    #[test]
    fn slowdown_and_contention_stretch_service() -> Result<(), SimError> {
        let mut p = Processor::new(ProcessorSpec::database(1, Contention::new(1.0, 1.0)?))?;
        let w = p.start(0.0, 1, 1.0);
        assert_eq!(p.start(0.0, 2, 1.0), None);
        // 2 active on 1 core: share 1/2, multiplier 1 + 1·(2 − 1)/1 = 2: speed 1/4.
        assert!((p.speed() - 0.25).abs() < 1e-12);
        assert_eq!(drain(&mut p, w), vec![(1, 4.0), (2, 4.0)]);
        let mut q = Processor::new(ProcessorSpec::cpu(1))?;
        let w = q.start(0.0, 1, 1.0);
        assert_eq!(q.set_slowdown(0.5, 2.0)?, None);
        // 0.5 s done at full speed, the remaining 0.5 s at half speed.
        assert_eq!(drain(&mut q, w), vec![(1, 1.5)]);
        assert_eq!(q.completed(), 1);
        assert!(q.set_slowdown(2.0, 0.0).is_err());
        Ok(())
    }
}
