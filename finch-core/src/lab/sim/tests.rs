//! Tests of whole services: queueing theory, timeouts and backlog, rates,
//! cache warm-up, determinism and speed.

use super::*;

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load `a`.
fn erlang_c(c: usize, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let last = term * c as f64 / (c as f64 - a);
    last / (sum + last)
}

#[test]
fn pool_queue_matches_erlang_c() -> Result<(), SimError> {
    let (c, lambda, mu) = (4, 3.2, 1.0);
    let mut svc = Service::new(2024);
    let pool = svc.add_pool(PoolSpec::new(c))?;
    svc.add_operation(
        "hold",
        1.0,
        Pipeline::new().acquire(pool).delay(Dist::exp(1.0 / mu)?),
    )?;
    svc.set_rate(lambda)?;
    svc.run_until(2_000.0)?;
    let warm = svc.station(pool)?.station().stats();
    svc.run_until(152_000.0)?;
    let end = svc.station(pool)?.station().stats();
    let arrived = (end.arrived - warm.arrived) as f64;
    let p_wait = (end.waited - warm.waited) as f64 / arrived;
    let admitted = (end.admitted - warm.admitted) as f64;
    let mean_wait = (end.wait_sum - warm.wait_sum) / admitted;
    let want_p = erlang_c(c, lambda / mu);
    let want_w = want_p / (c as f64 * mu - lambda);
    eprintln!(
        "M/M/{c} rho={:.2}, {arrived} arrivals: P(wait) sim {p_wait:.4} vs Erlang C {want_p:.4}; \
         mean wait sim {mean_wait:.4} vs {want_w:.4}",
        lambda / (c as f64 * mu)
    );
    assert!((p_wait / want_p - 1.0).abs() < 0.03);
    assert!((mean_wait / want_w - 1.0).abs() < 0.05);
    Ok(())
}

#[test]
fn processor_sharing_matches_mm1() -> Result<(), SimError> {
    let mut svc = Service::new(5);
    let cpu = svc.add_processor(ProcessorSpec::cpu(1))?;
    svc.add_operation("work", 1.0, Pipeline::new().serve(cpu, Dist::exp(1.0)?))?;
    svc.set_rate(0.8)?;
    svc.run_until(1_000.0)?;
    svc.drain_records().for_each(drop);
    svc.run_until(200_000.0)?;
    let records: Vec<Record> = svc.drain_records().collect();
    let mean = records.iter().map(|r| r.latency).sum::<f64>() / records.len() as f64;
    eprintln!("M/M/1-PS rho=0.8: mean response sim {mean:.3} vs 5.000");
    assert!((mean / 5.0 - 1.0).abs() < 0.06);
    Ok(())
}

#[test]
fn timeouts_are_errors_and_backlog_carries_over() -> Result<(), SimError> {
    let mut svc = Service::new(3);
    let limit = svc.add_limit(StationSpec::new(1).timeout(0.5))?;
    let op = svc.add_operation(
        "slow",
        1.0,
        Pipeline::new().acquire(limit).delay(Dist::constant(0.3)?),
    )?;
    svc.set_rate(10.0)?;
    svc.run_until(1.0)?;
    let first: Vec<Record> = svc.drain_records().collect();
    let timeouts: Vec<&Record> = first.iter().filter(|r| !r.is_ok()).collect();
    assert!(!timeouts.is_empty());
    for r in &timeouts {
        assert_eq!(r.outcome, Outcome::Timeout(limit));
        assert!((r.latency - 0.5).abs() < 1e-9);
        assert_eq!(r.op, op);
    }
    assert!(svc.in_flight() > 0, "overload leaves a backlog");
    svc.set_rate(0.0)?;
    svc.run_until(2.0)?;
    let second: Vec<Record> = svc.drain_records().collect();
    assert!(
        second.iter().any(|r| r.arrival < 1.0),
        "backlog finishes in the next window"
    );
    assert_eq!(svc.in_flight(), 0);
    assert!(
        second.iter().all(|r| r.arrival < 1.0),
        "rate 0 brings no arrival"
    );
    Ok(())
}

#[test]
fn rejections_when_the_queue_is_full() -> Result<(), SimError> {
    let mut svc = Service::new(3);
    let limit = svc.add_limit(StationSpec::new(1).queue_limit(0))?;
    svc.add_operation(
        "x",
        1.0,
        Pipeline::new().acquire(limit).delay(Dist::constant(1.0)?),
    )?;
    svc.set_rate(50.0)?;
    svc.run_until(1.0)?;
    let rejected = svc
        .records()
        .iter()
        .filter(|r| r.outcome == Outcome::Rejected(limit))
        .count();
    assert!(rejected > 30);
    assert!(svc.records().iter().all(|r| r.is_ok() || r.latency == 0.0));
    Ok(())
}

#[test]
fn rate_changes_between_windows() -> Result<(), SimError> {
    let mut svc = Service::new(8);
    svc.add_operation("x", 1.0, Pipeline::new().delay(Dist::constant(0.0)?))?;
    let mut counts = Vec::new();
    for (w, rate) in [100.0, 100.0, 1500.0, 1500.0, 0.0, 700.0]
        .into_iter()
        .enumerate()
    {
        svc.set_rate(rate)?;
        svc.run_until((w + 1) as f64)?;
        counts.push(svc.drain_records().count());
    }
    eprintln!("arrivals per window at 100, 100, 1500, 1500, 0, 700/s: {counts:?}");
    for (n, rate) in counts
        .iter()
        .zip([100.0, 100.0, 1500.0, 1500.0, 0.0, 700.0])
    {
        let sd = f64::sqrt(rate);
        assert!((*n as f64 - rate).abs() <= 4.0 * sd + 1.0, "{n} at {rate}");
    }
    Ok(())
}

#[test]
fn a_grown_cache_warms_up_towards_che() -> Result<(), SimError> {
    let mut svc = Service::new(13);
    let spec = CacheSpec {
        keys: 20_000,
        zipf_s: 0.9,
        capacity: 200,
    };
    let cache = svc.add_cache(spec)?;
    svc.add_operation(
        "read",
        1.0,
        Pipeline::new().cache(cache, Pipeline::new().delay(Dist::constant(0.001)?)),
    )?;
    svc.set_rate(1000.0)?;
    svc.run_until(20.0)?;
    svc.set_cache_capacity(cache, 4_000)?;
    let mut ratios = Vec::new();
    let mut before = svc.cache(cache)?.stats();
    for w in 21..=80 {
        svc.run_until(w as f64)?;
        let now = svc.cache(cache)?.stats();
        let hits = (now.hits - before.hits) as f64;
        ratios.push(hits / (hits + (now.misses - before.misses) as f64));
        before = now;
    }
    let che = Zipf::new(spec.keys, spec.zipf_s)?.che_hit_ratio(4_000);
    let last: f64 = ratios[50..].iter().sum::<f64>() / 10.0;
    eprintln!(
        "cache grown 200 -> 4000: hit ratio {:.3} in the first window, {last:.3} after 50 s, Che {che:.3}",
        ratios[0]
    );
    assert!(ratios[0] < last - 0.05, "the cache warms up over time");
    assert!((last - che).abs() < 0.02);
    svc.set_cache_capacity(cache, 100)?;
    assert_eq!(svc.cache(cache)?.len(), 100);
    Ok(())
}

/// A service with every part, as a scenario would build it.
fn full_service(seed: u64) -> Result<(Service, StationId, ProcessorId), SimError> {
    let mut svc = Service::new(seed);
    let app = svc.add_processor(ProcessorSpec::cpu(2))?;
    let limit = svc.add_limit(StationSpec::new(200).timeout(1.0).queue_limit(2000))?;
    let pool = svc.add_pool(PoolSpec::new(12).timeout(0.3).open_delay(1.0))?;
    let db = svc.add_processor(ProcessorSpec::database(4, Contention::new(1.0, 2.0)?))?;
    let cache = svc.add_cache(CacheSpec {
        keys: 100_000,
        zipf_s: 0.9,
        capacity: 10_000,
    })?;
    svc.add_operation(
        "read",
        0.8,
        Pipeline::new().serve(app, Dist::exp(0.0004)?).cache(
            cache,
            Pipeline::new()
                .acquire(limit)
                .acquire(pool)
                .serve(db, Dist::exp(0.002)?),
        ),
    )?;
    svc.add_operation(
        "write",
        0.2,
        Pipeline::new()
            .serve(app, Dist::exp(0.0004)?)
            .acquire(limit)
            .acquire(pool)
            .serve(db, Dist::lognormal_p99(0.004, 5.0)?),
    )?;
    svc.set_burstiness(Burstiness::Batch { mean_size: 2.0 })?;
    svc.interfere(db, &Interference::episode(10.0, 15.0, 3.5)?)?;
    Ok((svc, pool, db))
}

fn run_windows(seed: u64, windows: usize) -> Result<Vec<Record>, SimError> {
    let (mut svc, pool, _) = full_service(seed)?;
    let mut all = Vec::new();
    for w in 0..windows {
        svc.set_rate(if w % 10 < 5 { 600.0 } else { 1200.0 })?;
        if w == 7 {
            svc.set_capacity(pool, 20)?;
        }
        svc.run_until((w + 1) as f64)?;
        all.extend(svc.drain_records());
    }
    Ok(all)
}

#[test]
fn same_seed_same_records() -> Result<(), SimError> {
    let a = run_windows(99, 20)?;
    let b = run_windows(99, 20)?;
    let c = run_windows(100, 20)?;
    assert!(a.len() > 10_000);
    assert_eq!(a, b);
    assert_ne!(a, c);
    Ok(())
}

#[test]
fn interference_and_contention_show_in_latency() -> Result<(), SimError> {
    let records = run_windows(4, 20)?;
    let mean_in = |lo: f64, hi: f64| {
        let xs: Vec<f64> = records
            .iter()
            .filter(|r| r.is_ok() && r.arrival >= lo && r.arrival < hi)
            .map(|r| r.latency)
            .collect();
        xs.iter().sum::<f64>() / xs.len() as f64
    };
    let (before, during) = (mean_in(2.0, 5.0), mean_in(11.0, 14.0));
    eprintln!("mean latency before the episode {before:.4} s, during {during:.4} s");
    assert!(during > 2.0 * before);
    Ok(())
}

/// A station's integrated load obeys Little's law: mean busy tokens are the
/// admission rate times the holding time.
#[test]
fn station_load_follows_littles_law() -> Result<(), SimError> {
    let mut svc = Service::new(5);
    let pool = svc.add_pool(PoolSpec::new(50))?;
    let db = svc.add_processor(ProcessorSpec::cpu(64))?;
    svc.add_operation(
        "work",
        1.0,
        Pipeline::new().acquire(pool).serve(db, Dist::exp(0.02)?),
    )?;
    svc.set_rate(400.0)?;
    svc.run_until(50.0)?;
    let load = svc.station_load(pool)?;
    let busy = load.busy_secs / 50.0;
    assert!(
        (busy - 8.0).abs() < 0.4,
        "400/s × 20 ms = 8 busy, got {busy}"
    );
    assert!(load.waiting_secs < 1e-9, "50 tokens never run out");
    Ok(())
}
