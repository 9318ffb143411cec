//! An LRU cache of integer keys whose capacity is a knob.

use super::error::SimError;
use super::zipf::Zipf;

/// The parameters of a cache in a service: its keys and its capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheSpec {
    /// How many distinct keys requests ask for (>= 1).
    pub keys: usize,
    /// The Zipf exponent of key popularity (>= 0).
    pub zipf_s: f64,
    /// How many entries the cache holds (the capacity knob; 0 caches nothing).
    pub capacity: usize,
}

/// Counters of a cache since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found their key.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries evicted to make room or because the capacity shrank.
    pub evictions: u64,
}

impl CacheStats {
    /// Hits over lookups (0 before any lookup).
    pub fn hit_ratio(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            0.0
        } else {
            self.hits as f64 / n as f64
        }
    }
}

const NIL: u32 = u32::MAX;

/// An LRU cache of keys `0..keys`, O(1) per operation and no allocation after creation.
///
/// It starts empty: a miss is filled with [`LruCache::insert`] (the service
/// does it when the request that missed succeeds), so a cache that grows warms
/// up over time, and one that shrinks evicts its least recently used entries at once.
#[derive(Debug, Clone)]
pub struct LruCache {
    capacity: usize,
    len: usize,
    head: u32,
    tail: u32,
    prev: Vec<u32>,
    next: Vec<u32>,
    present: Vec<bool>,
    stats: CacheStats,
}

impl LruCache {
    /// An empty cache over `keys` keys (1 ..= 2³²−1) holding up to `capacity` entries.
    ///
    /// # Errors
    /// [`SimError::Invalid`] for no keys or too many.
    pub fn new(keys: usize, capacity: usize) -> Result<Self, SimError> {
        if keys == 0 || u32::try_from(keys).is_err() {
            return Err(SimError::invalid(
                "cache key count",
                keys,
                "use between 1 and 4294967294 keys",
            ));
        }
        Ok(Self {
            capacity,
            len: 0,
            head: NIL,
            tail: NIL,
            prev: vec![NIL; keys],
            next: vec![NIL; keys],
            present: vec![false; keys],
            stats: CacheStats::default(),
        })
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Whether `key` is cached; a hit makes it the most recently used.
    pub fn lookup(&mut self, key: u32) -> bool {
        if self.present.get(key as usize).copied().unwrap_or(false) {
            self.stats.hits += 1;
            self.unlink(key);
            self.push_front(key);
            true
        } else {
            self.stats.misses += 1;
            false
        }
    }

    /// Caches `key` as the most recently used, evicting the least recently used if full.
    pub fn insert(&mut self, key: u32) {
        let Some(&present) = self.present.get(key as usize) else {
            return;
        };
        if self.capacity == 0 {
            return;
        }
        if present {
            self.unlink(key);
        } else {
            self.len += 1;
            self.present[key as usize] = true;
        }
        self.push_front(key);
        self.evict_to(self.capacity);
    }

    /// Sets the capacity; shrinking evicts at once.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    fn evict_to(&mut self, capacity: usize) {
        while self.len > capacity && self.tail != NIL {
            let key = self.tail;
            self.unlink(key);
            self.present[key as usize] = false;
            self.len -= 1;
            self.stats.evictions += 1;
        }
    }

    fn unlink(&mut self, key: u32) {
        let (p, n) = (self.prev[key as usize], self.next[key as usize]);
        if p == NIL {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
    }

    fn push_front(&mut self, key: u32) {
        self.prev[key as usize] = NIL;
        self.next[key as usize] = self.head;
        if self.head == NIL {
            self.tail = key;
        } else {
            self.prev[self.head as usize] = key;
        }
        self.head = key;
    }
}

/// A cache with the popularity of the keys asked of it.
#[derive(Debug, Clone)]
pub(crate) struct KeyedCache {
    pub(crate) lru: LruCache,
    pub(crate) keys: Zipf,
}

impl KeyedCache {
    pub(crate) fn new(spec: CacheSpec) -> Result<Self, SimError> {
        Ok(Self {
            lru: LruCache::new(spec.keys, spec.capacity)?,
            keys: Zipf::new(spec.keys, spec.zipf_s)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn evicts_the_least_recently_used() -> Result<(), SimError> {
        let mut c = LruCache::new(10, 2)?;
        c.insert(1);
        c.insert(2);
        assert!(c.lookup(1));
        c.insert(3);
        assert!(!c.lookup(2));
        assert!(c.lookup(1) && c.lookup(3));
        c.set_capacity(1);
        assert_eq!(c.len(), 1);
        assert!(c.lookup(3) && !c.lookup(1));
        c.set_capacity(0);
        c.insert(4);
        assert!(c.is_empty());
        assert_eq!(c.stats().evictions, 3);
        Ok(())
    }

    /// Under the independent reference model the LRU hit ratio matches Che's
    /// approximation and stays under the top-`c` mass.
    #[test]
    fn hit_ratio_matches_che_under_zipf() -> Result<(), SimError> {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        for (n, s, cap) in [
            (10_000, 0.8, 1_000),
            (10_000, 1.1, 500),
            (5_000, 0.6, 2_000),
        ] {
            let z = Zipf::new(n, s)?;
            let mut c = LruCache::new(n, cap)?;
            for _ in 0..200_000 {
                let k = z.sample(&mut rng);
                if !c.lookup(k) {
                    c.insert(k);
                }
            }
            let warm = c.stats();
            for _ in 0..1_000_000 {
                let k = z.sample(&mut rng);
                if !c.lookup(k) {
                    c.insert(k);
                }
            }
            let s2 = c.stats();
            let hits = (s2.hits - warm.hits) as f64;
            let got = hits / (hits + (s2.misses - warm.misses) as f64);
            let che = z.che_hit_ratio(cap);
            let top = z.top_mass(cap);
            eprintln!("zipf n={n} s={s} c={cap}: simulated {got:.4}, Che {che:.4}, top-c {top:.4}");
            assert!((got - che).abs() < 0.01, "simulated {got} vs Che {che}");
            assert!(got < top);
        }
        Ok(())
    }
}
