//! What a simulated service reports about each request it finished.

use super::pipeline::StationId;

/// An operation of a service (an index into its operations, in the order they were added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub(crate) usize);

impl OpId {
    /// The index of the operation, in the order it was added.
    pub fn index(self) -> usize {
        self.0
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It went through its whole pipeline.
    Ok,
    /// It waited at this station longer than the station's timeout.
    Timeout(StationId),
    /// This station's queue was full when it arrived there.
    Rejected(StationId),
}

/// One finished request: the harness judges windows from these, not from the
/// service's own view of itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// Its operation.
    pub op: OpId,
    /// When it arrived, in virtual seconds.
    pub arrival: f64,
    /// How long it took to finish (succeed or fail), in seconds.
    pub latency: f64,
    /// How it ended.
    pub outcome: Outcome,
}

impl Record {
    /// When it finished, in virtual seconds.
    pub fn end(&self) -> f64 {
        self.arrival + self.latency
    }

    /// Whether it succeeded.
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}
