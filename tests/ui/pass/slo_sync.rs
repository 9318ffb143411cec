//! `#[slo]` on sync functions: `return`, `?`, generics, `impl Trait`, argument
//! patterns, `unsafe fn`, inner attributes and coercions keep their meaning.

use std::error::Error;
use std::fmt::Display;
use std::num::ParseIntError;

use finch::slo;

/// Adds two numbers.
#[slo(p99 < 50ms)]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[slo(p50 < 1ms, p90 < 2ms, p95 < 3ms, p99 < 4ms, p999 < 1.5s, errors < 0.1%)]
pub fn parse(text: &str) -> Result<u32, ParseIntError> {
    let n: u32 = text.parse()?;
    if n == 0 {
        return Ok(1);
    }
    Ok(n)
}

#[slo(errors < 1%, name = "pass.boxed")]
pub(crate) fn boxed(fail: bool) -> Result<u8, Box<dyn Error>> {
    if fail {
        return Err("failed".into());
    }
    let n: u8 = "7".parse()?;
    Ok(n)
}

#[slo(p99 < 10ms)]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or(text)
}

#[slo(p99 < 10ms)]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[slo(p99 < 10ms)]
fn largest<T>(items: &[T]) -> Option<&T>
where
    T: PartialOrd,
{
    let mut best = items.first()?;
    for item in items {
        if item > best {
            best = item;
        }
    }
    Some(best)
}

#[slo(p99 < 10ms)]
fn show(value: impl Display) -> String {
    value.to_string()
}

#[slo(p99 < 10ms)]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[slo(p99 < 10ms)]
fn boxed_closure<'a>(prefix: &'a str) -> Box<dyn Fn(&str) -> String + 'a> {
    Box::new(move |s| format!("{prefix}{s}"))
}

#[slo(p99 < 10ms)]
fn swap((a, b): (u32, String), [c, _]: [u8; 2]) -> (String, u32, u8) {
    (b, a, c)
}

#[slo(p99 < 10ms)]
fn nothing() {
    #![allow(clippy::let_unit_value)]
    let unit = ();
    unit
}

#[slo(p99 < 10ms)]
fn early(flag: bool) {
    if flag {
        return;
    }
    println!("not early");
}

#[slo(p99 < 10ms)]
unsafe fn read(ptr: *const u32) -> u32 {
    unsafe { *ptr }
}

#[slo(p99 < 10ms)]
fn mutate(mut items: Vec<u32>, out: &mut Vec<u32>) -> usize {
    items.push(1);
    out.append(&mut items);
    out.len()
}

#[slo(p99 < 10ms)]
fn consume(text: String) -> String {
    text
}

fn main() {
    assert_eq!(add(1, 2), 3);
    assert_eq!(parse("12"), Ok(12));
    assert!(parse("x").is_err());
    assert!(boxed(true).is_err());
    assert_eq!(boxed(false).ok(), Some(7));
    assert_eq!(first_word("hello world"), "hello");
    assert_eq!(longest("ab", "abc"), "abc");
    assert_eq!(largest(&[1, 5, 2]), Some(&5));
    assert_eq!(show(4.5), "4.5");
    assert_eq!(evens(5).count(), 3);
    assert_eq!(boxed_closure("> ")("x"), "> x");
    assert_eq!(swap((1, "b".into()), [3, 4]), ("b".to_string(), 1, 3));
    nothing();
    early(true);
    let x = 5;
    assert_eq!(unsafe { read(&x) }, 5);
    let mut out = vec![0];
    assert_eq!(mutate(vec![9], &mut out), 3);
    assert_eq!(consume("c".into()), "c");
    let slo = finch::slo_by_name(&format!("{}::add", module_path!())).unwrap();
    assert_eq!(slo.calls(), 1);
    assert_eq!(slo.doc(), "Adds two numbers.");
    assert!(finch::slo_by_name("pass.boxed").is_some());
}
