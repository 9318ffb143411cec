//! A database with `k` cores whose service slows down when it has too many
//! active connections.

use super::error::{SimError, non_negative, positive};
use super::processor::ProcessorSpec;

/// The slowdown of a server with too many concurrent requests (lock and
/// latch contention, context switches, cache thrashing).
///
/// With `n` requests active on `k` cores, every request's work is multiplied by
/// `1 + alpha · max(0, n − k·per_core) / k`: up to `per_core` active requests
/// per core are free, each one beyond costs `alpha / k`. For `k = 4`,
/// `per_core = 2`, `alpha = 1`, 16 active connections make every request
/// `1 + (16 − 8)/4 = 3` times slower (on top of sharing the 4 cores).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contention {
    /// The cost of each active request beyond the free ones, per core (>= 0).
    pub alpha: f64,
    /// How many active requests per core run without contention (> 0).
    pub per_core: f64,
}

impl Contention {
    /// No contention: the multiplier is always 1.
    pub const NONE: Self = Self {
        alpha: 0.0,
        per_core: 1.0,
    };

    /// A contention of `alpha` beyond `per_core` active requests per core.
    ///
    /// # Errors
    /// [`SimError::Invalid`] if `alpha` is negative or `per_core` not positive.
    pub fn new(alpha: f64, per_core: f64) -> Result<Self, SimError> {
        Ok(Self {
            alpha: non_negative("contention alpha", alpha)?,
            per_core: positive("contention per_core", per_core)?,
        })
    }

    /// The work multiplier with `active` requests on `cores` cores.
    pub fn multiplier(&self, active: usize, cores: usize) -> f64 {
        let k = cores.max(1) as f64;
        1.0 + self.alpha * (active as f64 - k * self.per_core).max(0.0) / k
    }
}

impl ProcessorSpec {
    /// A database: `cores` processors shared by the active connections, with `contention`.
    pub fn database(cores: usize, contention: Contention) -> Self {
        Self { cores, contention }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_is_one_until_the_free_connections_then_linear() -> Result<(), SimError> {
        let c = Contention::new(1.0, 2.0)?;
        assert_eq!(c.multiplier(0, 4), 1.0);
        assert_eq!(c.multiplier(8, 4), 1.0);
        assert_eq!(c.multiplier(12, 4), 2.0);
        assert_eq!(c.multiplier(16, 4), 3.0);
        assert_eq!(Contention::NONE.multiplier(1000, 4), 1.0);
        assert!(Contention::new(-1.0, 2.0).is_err());
        assert!(Contention::new(1.0, 0.0).is_err());
        Ok(())
    }
}
