//! `#[slo]` end to end: sync, async, methods and generic functions record their
//! calls; errors, panics and cancelled futures are measured; calls counted on
//! many threads add up; `finch::slos()` lists the objectives.

use std::num::ParseIntError;
use std::time::Duration;

use finch::slo::{SloRef, SloWindow};
use finch::{Objective, Quantile, slo, slo_by_name, slos};

fn slo_named(name: &str) -> SloRef {
    slo_by_name(name).unwrap_or_else(|| panic!("SLO {name} is not registered"))
}

fn window(reader: &mut finch::slo::SloReader) -> SloWindow {
    reader.drain(Duration::from_secs(1))
}

/// Adds two numbers.
#[slo(p99 < 50ms)]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[slo(p95 < 200ms, errors < 1%, name = "test.slo.parse")]
fn parse(text: &str) -> Result<u32, ParseIntError> {
    let n: u32 = text.trim().parse()?;
    if n == 0 {
        return Ok(1);
    }
    Ok(n)
}

#[slo(p50 < 5ms)]
fn nothing() {}

#[slo(p90 < 1s, name = "test.slo.boom")]
fn boom(fail: bool) -> u8 {
    assert!(!fail, "boom");
    7
}

#[slo(p99 < 100ms)]
fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut best = *items.first()?;
    for &item in items {
        if item > best {
            best = item;
        }
    }
    Some(best)
}

#[slo(p99 < 10ms, name = "test.slo.evens")]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[slo(p99 < 50ms, errors < 5%)]
async fn fetch(id: u32) -> Result<String, String> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("no recipe 0".into());
    }
    Ok(format!("recipe {id}"))
}

#[slo(p50 < 100ms, p99 < 1s, name = "test.slo.nap")]
async fn nap(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[slo(p999 < 2s, name = "test.slo.hang")]
async fn hang() -> u32 {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    1
}

struct Pantry {
    name: String,
    stock: u32,
}

impl Pantry {
    #[slo(p99 < 1ms, name = "test.slo.pantry.name")]
    fn name(&self) -> &str {
        &self.name
    }

    #[slo(p99 < 1ms, name = "test.slo.pantry.stock_mut")]
    fn stock_mut(&mut self) -> &mut u32 {
        &mut self.stock
    }

    #[slo(p99 < 1ms, name = "test.slo.pantry.into_name")]
    fn into_name(self) -> String {
        self.name
    }

    #[slo(p99 < 20ms, name = "test.slo.pantry.restock")]
    async fn restock(&mut self, n: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        self.stock = self.stock.checked_add(n).ok_or("too much stock")?;
        Ok(self.stock)
    }
}

trait Shelf {
    fn count(&self) -> usize;
}

impl Shelf for Pantry {
    #[slo(p99 < 1ms, name = "test.slo.shelf.count")]
    fn count(&self) -> usize {
        self.stock as usize
    }
}

#[test]
fn sync_functions_record_calls() {
    let slo = slo_named("slo_macro::add");
    let mut reader = slo.reader();
    assert_eq!(add(2, 3), 5);
    assert_eq!(add(4, 4), 8);
    let w = window(&mut reader);
    assert_eq!((w.calls, w.started, w.errors), (2, 2, 0));
    assert_eq!(slo.doc(), "Adds two numbers.");

    let unit = slo_named("slo_macro::nothing");
    let mut reader = unit.reader();
    nothing();
    assert_eq!(window(&mut reader).calls, 1);
}

#[test]
fn err_returns_count_as_errors() {
    let slo = slo_named("test.slo.parse");
    let mut reader = slo.reader();
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(parse("0"), Ok(1));
    assert!(parse("twelve").is_err());
    let w = window(&mut reader);
    assert_eq!((w.calls, w.errors), (3, 1));
    assert!((w.error_ratio().unwrap_or_default() - 1.0 / 3.0).abs() < 1e-9);
}

#[test]
fn generic_and_impl_trait_functions_record_calls() {
    let slo = slo_named("slo_macro::largest");
    let mut reader = slo.reader();
    assert_eq!(largest(&[3, 9, 2]), Some(9));
    assert_eq!(largest(&[0.5, -1.0]), Some(0.5));
    assert_eq!(largest::<u8>(&[]), None);
    assert_eq!(window(&mut reader).calls, 3);

    let evens_slo = slo_named("test.slo.evens");
    let mut reader = evens_slo.reader();
    assert_eq!(evens(7).collect::<Vec<_>>(), [0, 2, 4, 6]);
    assert_eq!(window(&mut reader).calls, 1);
}

#[test]
fn methods_record_calls() {
    let mut readers: Vec<_> = [
        "test.slo.pantry.name",
        "test.slo.pantry.stock_mut",
        "test.slo.pantry.into_name",
        "test.slo.shelf.count",
    ]
    .iter()
    .map(|name| slo_named(name).reader())
    .collect();
    let mut pantry = Pantry {
        name: "larder".into(),
        stock: 2,
    };
    assert_eq!(pantry.name(), "larder");
    *pantry.stock_mut() += 3;
    assert_eq!(pantry.count(), 5);
    assert_eq!(pantry.into_name(), "larder");
    for reader in &mut readers {
        let w = window(reader);
        assert_eq!(w.calls, 1, "{}", reader.slo().name());
    }
}

#[test]
fn panics_are_measured() {
    let slo = slo_named("test.slo.boom");
    let mut reader = slo.reader();
    assert_eq!(boom(false), 7);
    let caught = std::panic::catch_unwind(|| boom(true));
    assert!(caught.is_err());
    let w = window(&mut reader);
    assert_eq!((w.calls, w.errors, w.panicked), (2, 1, 1));
}

#[tokio::test]
async fn async_functions_record_calls_and_errors() {
    let slo = slo_named("slo_macro::fetch");
    let mut reader = slo.reader();
    assert_eq!(fetch(3).await.as_deref(), Ok("recipe 3"));
    assert!(fetch(0).await.is_err());
    // The future stays `Send`: it can be spawned.
    let spawned = tokio::spawn(fetch(9)).await.map_err(|e| e.to_string());
    assert_eq!(spawned, Ok(Ok("recipe 9".to_string())));
    let w = window(&mut reader);
    assert_eq!((w.calls, w.errors, w.cancelled), (3, 1, 0));

    let restock = slo_named("test.slo.pantry.restock");
    let mut reader = restock.reader();
    let mut pantry = Pantry {
        name: "cellar".into(),
        stock: u32::MAX - 1,
    };
    assert_eq!(pantry.restock(1).await, Ok(u32::MAX));
    assert!(pantry.restock(1).await.is_err());
    let w = window(&mut reader);
    assert_eq!((w.calls, w.errors), (2, 1));
}

#[slo(p99 < 50ms, errors < 1%, name = "test.slo.threads.sync")]
fn odd(n: u32) -> Result<u32, u32> {
    if n % 2 == 1 { Ok(n) } else { Err(n) }
}

#[slo(p99 < 50ms, name = "test.slo.threads.async")]
async fn hop(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n
}

#[test]
fn sync_calls_on_many_threads_add_up() {
    let mut reader = slo_named("test.slo.threads.sync").reader();
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| (0..5_000).filter(|&n| odd(n).is_err()).count()))
        .collect();
    let failed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    // Threads that exited left their counts behind; new ones take them over.
    std::thread::spawn(|| odd(1)).join().unwrap().unwrap();
    let w = window(&mut reader);
    assert_eq!(failed, 10_000);
    assert_eq!(
        (w.started, w.calls, w.errors, w.in_flight),
        (20_001, 20_001, 10_000, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_that_move_between_threads_add_up() {
    let mut reader = slo_named("test.slo.threads.async").reader();
    let tasks: Vec<_> = (0..2_000).map(|n| tokio::spawn(hop(n))).collect();
    for t in tasks {
        t.await.unwrap();
    }
    let w = window(&mut reader);
    assert_eq!((w.started, w.calls, w.in_flight), (2_000, 2_000, 0));
}

#[tokio::test]
async fn cancelled_futures_are_measured() {
    let slo = slo_named("test.slo.hang");
    let mut reader = slo.reader();
    let timed_out = tokio::time::timeout(Duration::from_millis(20), hang()).await;
    assert!(timed_out.is_err());
    let w = window(&mut reader);
    assert_eq!((w.calls, w.cancelled, w.errors, w.in_flight), (1, 1, 0, 0));
    assert!(
        w.quantile(0.5)
            .is_some_and(|d| d >= Duration::from_millis(15))
    );

    // A future dropped before its first poll never started.
    drop(hang());
    assert_eq!(window(&mut reader).started, 0);
}

#[tokio::test]
async fn latency_quantiles_follow_the_recorded_durations() {
    let slo = slo_named("test.slo.nap");
    let mut reader = slo.reader();
    for _ in 0..20 {
        nap(2).await;
    }
    nap(60).await;
    let w = window(&mut reader);
    assert_eq!(w.calls, 21);
    let slack = 1.0 - finch::slo::QUANTILE_RELATIVE_ERROR;
    let p50 = w.quantile(0.5).unwrap_or_default();
    let max = w.quantile(1.0).unwrap_or_default();
    assert!(p50.as_secs_f64() >= 0.002 * slack, "p50 {p50:?}");
    assert!(max.as_secs_f64() >= 0.060 * slack, "max {max:?}");
    assert!(max > p50, "p50 {p50:?}, max {max:?}");
}

#[test]
fn slos_lists_objectives() {
    let all = slos();
    let find = |name: &str| {
        all.iter()
            .find(|s| s.name() == name)
            .unwrap_or_else(|| panic!("{name} is not listed"))
    };
    assert_eq!(
        find("test.slo.parse").objectives(),
        [
            Objective::Latency {
                quantile: Quantile::P95,
                threshold: Duration::from_millis(200),
            },
            Objective::Errors { max: 0.01 },
        ]
    );
    assert_eq!(
        find("slo_macro::fetch").objectives(),
        [
            Objective::Latency {
                quantile: Quantile::P99,
                threshold: Duration::from_millis(50),
            },
            Objective::Errors { max: 0.05 },
        ]
    );
    let nap = find("test.slo.nap");
    assert_eq!(nap.objectives()[0].to_string(), "p50 < 100ms");
    assert_eq!(nap.objectives()[1].to_string(), "p99 < 1s");
    assert_eq!(
        find("test.slo.hang").objectives()[0].to_string(),
        "p999 < 2s"
    );
    assert_eq!(
        find("slo_macro::nothing").objectives()[0].to_string(),
        "p50 < 5ms"
    );
}
