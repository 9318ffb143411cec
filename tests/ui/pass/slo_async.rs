//! `#[slo]` on async functions: `?`, `return`, references, generics and `Send`
//! futures.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use finch::slo;

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

/// Fetches a recipe.
#[slo(p99 < 50ms, errors < 1%)]
async fn fetch(id: u32) -> Result<String, String> {
    let id = check(id)?;
    tokio::time::sleep(Duration::from_millis(1)).await;
    if id == 7 {
        return Ok("lucky".into());
    }
    Ok(format!("recipe {id}"))
}

fn check(id: u32) -> Result<u32, String> {
    if id == 0 {
        Err("no recipe 0".into())
    } else {
        Ok(id)
    }
}

#[slo(p95 < 1s)]
async fn first<'a>(items: &'a [String]) -> Option<&'a str> {
    tokio::task::yield_now().await;
    Some(items.first()?.as_str())
}

#[slo(p95 < 1s)]
async fn elided(text: &str) -> &str {
    tokio::task::yield_now().await;
    text.trim()
}

#[slo(p95 < 1s)]
async fn generic<T: Debug + Send>(value: T) -> String {
    tokio::task::yield_now().await;
    format!("{value:?}")
}

#[slo(p95 < 1s)]
async fn unit(flag: bool) {
    if flag {
        return;
    }
    tokio::task::yield_now().await;
}

#[slo(p95 < 1s)]
async fn boxed() -> Box<dyn Debug + Send> {
    tokio::task::yield_now().await;
    Box::new(3u8)
}

#[slo(p95 < 1s)]
async fn counter() -> impl Iterator<Item = u8> {
    tokio::task::yield_now().await;
    0..3
}

#[slo(p95 < 1s)]
async fn pattern((a, b): (u32, u32)) -> u32 {
    tokio::task::yield_now().await;
    a * b
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(assert_send(fetch(3)).await.as_deref(), Ok("recipe 3"));
    assert_eq!(fetch(7).await.as_deref(), Ok("lucky"));
    assert!(fetch(0).await.is_err());
    let items = vec!["a".to_string()];
    assert_eq!(assert_send(first(&items)).await, Some("a"));
    assert_eq!(elided("  x ").await, "x");
    assert_eq!(assert_send(generic(5)).await, "5");
    assert_send(unit(true)).await;
    assert_eq!(format!("{:?}", boxed().await), "3");
    assert_eq!(counter().await.count(), 3);
    assert_eq!(pattern((2, 3)).await, 6);
    let spawned = tokio::spawn(fetch(4)).await.unwrap();
    assert_eq!(spawned.as_deref(), Ok("recipe 4"));
    assert_eq!(
        finch::slo_by_name(&format!("{}::fetch", module_path!()))
            .unwrap()
            .calls(),
        4
    );
}
