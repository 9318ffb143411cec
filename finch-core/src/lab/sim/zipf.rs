//! Zipf-distributed keys, with the hit ratio an LRU cache should reach on them.

use rand::{Rng, RngExt};

use super::error::{SimError, non_negative};

/// Keys `0..n` drawn with probability proportional to `1 / (k + 1)^s`: key 0 is
/// the most popular. `s = 0` is uniform; web and database workloads are
/// typically `0.6 <= s <= 1.2`.
///
/// Sampling uses Vose's alias tables: O(1), one uniform draw, no allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Zipf {
    s: f64,
    cumulative: Vec<f64>,
    accept: Vec<f64>,
    alias: Vec<u32>,
}

impl Zipf {
    /// `n` keys (1 ..= 2³²−1) with exponent `s` (>= 0).
    ///
    /// # Errors
    /// [`SimError::Invalid`] for no keys, too many keys or a negative `s`.
    pub fn new(n: usize, s: f64) -> Result<Self, SimError> {
        let s = non_negative("zipf exponent", s)?;
        if n == 0 || u32::try_from(n).is_err() {
            return Err(SimError::invalid(
                "zipf key count",
                n,
                "use between 1 and 4294967295 keys",
            ));
        }
        let mut cumulative = Vec::with_capacity(n);
        let mut acc = 0.0;
        for k in 1..=n {
            acc += (k as f64).powf(-s);
            cumulative.push(acc);
        }
        for c in &mut cumulative {
            *c /= acc;
        }
        let mut zipf = Self {
            s,
            cumulative,
            accept: vec![1.0; n],
            alias: (0..n)
                .map(|k| u32::try_from(k).unwrap_or(u32::MAX))
                .collect(),
        };
        zipf.build_alias();
        Ok(zipf)
    }

    /// Vose's alias method: key `k` is kept with probability `accept[k]`,
    /// else replaced by `alias[k]`.
    fn build_alias(&mut self) {
        let n = self.keys();
        let mut scaled: Vec<f64> = (0..n).map(|k| self.probability(k) * n as f64).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&k| scaled[k] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            self.accept[s] = scaled[s];
            self.alias[s] = u32::try_from(l).unwrap_or(u32::MAX);
            scaled[l] += scaled[s] - 1.0;
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
    }

    /// The number of keys.
    pub fn keys(&self) -> usize {
        self.cumulative.len()
    }

    /// The exponent.
    pub fn exponent(&self) -> f64 {
        self.s
    }

    /// The probability of key `k` (0 for a key out of range).
    pub fn probability(&self, k: usize) -> f64 {
        let hi = self.cumulative.get(k).copied().unwrap_or(0.0);
        match k {
            0 => hi,
            k => hi - self.cumulative.get(k - 1).copied().unwrap_or(hi),
        }
    }

    /// The probability mass of the `c` most popular keys: the hit ratio of a
    /// perfect cache of `c` entries, an upper bound for LRU.
    pub fn top_mass(&self, c: usize) -> f64 {
        match c {
            0 => 0.0,
            c => self.cumulative.get(c - 1).copied().unwrap_or(1.0),
        }
    }

    /// The hit ratio of an LRU cache of `c` entries under independent
    /// references, by Che's approximation: with the characteristic time `T`
    /// solving `Σ (1 − e^(−p_k·T)) = c`, the hit ratio is `Σ p_k (1 − e^(−p_k·T))`.
    pub fn che_hit_ratio(&self, c: usize) -> f64 {
        if c == 0 {
            return 0.0;
        }
        if c >= self.keys() {
            return 1.0;
        }
        let filled = |t: f64| {
            (0..self.keys())
                .map(|k| 1.0 - (-self.probability(k) * t).exp())
                .sum::<f64>()
        };
        let target = c as f64;
        let mut hi = 1.0;
        while filled(hi) < target {
            hi *= 2.0;
        }
        let mut lo = 0.0;
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if filled(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let t = 0.5 * (lo + hi);
        (0..self.keys())
            .map(|k| {
                let p = self.probability(k);
                p * (1.0 - (-p * t).exp())
            })
            .sum()
    }

    /// Draws a key.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let u = rng.random::<f64>() * self.keys() as f64;
        let k = (u as usize).min(self.keys() - 1);
        let keep = self.accept.get(k).copied().unwrap_or(1.0);
        if u - (k as f64) < keep {
            u32::try_from(k).unwrap_or(u32::MAX)
        } else {
            self.alias.get(k).copied().unwrap_or(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one_and_decrease() -> Result<(), SimError> {
        let z = Zipf::new(1000, 0.9)?;
        let total: f64 = (0..1000).map(|k| z.probability(k)).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(z.probability(0) > z.probability(1));
        assert!(z.che_hit_ratio(100) < z.top_mass(100));
        assert!(Zipf::new(0, 1.0).is_err());
        assert!(Zipf::new(10, -1.0).is_err());
        Ok(())
    }

    #[test]
    fn samples_follow_the_probabilities() -> Result<(), SimError> {
        use rand::SeedableRng;
        let z = Zipf::new(50, 1.0)?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut seen = [0u32; 50];
        let n = 1_000_000;
        for _ in 0..n {
            seen[z.sample(&mut rng) as usize] += 1;
        }
        for k in [0, 1, 9, 49] {
            let want = z.probability(k) * f64::from(n);
            let got = f64::from(seen[k]);
            assert!(
                (got - want).abs() < 5.0 * want.sqrt(),
                "key {k}: {got} vs {want}"
            );
        }
        Ok(())
    }
}
