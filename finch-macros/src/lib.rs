//! The attributes of [finch](https://docs.rs/finch-slo): `#[knob]`, `#[slo]` and
//! `#[derive(KnobValue)]`.
//!
//! This crate is not a public API: depend on `finch-slo`, which re-exports these
//! macros. The generated code names only `::finch::…`.
//!
//! Misuse is reported as a compile error on the offending token, with a hint on
//! how to fix it.

mod derive;
mod knob;
mod slo;
mod util;

use proc_macro::TokenStream;

/// Declares a tunable parameter: `#[knob(...)]` on `static NAME: Knob<T>;`.
///
/// The attribute supplies the initializer and registers the knob, so
/// `finch::knobs()` lists it and finch's loop may tune it. Doc comments become
/// the knob's description.
///
/// ```
/// use std::time::Duration;
/// use finch::{Knob, KnobValue, knob};
///
/// /// Connections the recipe service keeps open.
/// #[knob(default = 8, min = 1, max = 64, cost = 1.0)]
/// static DB_POOL: Knob<u32>;
///
/// #[knob(default = 200ms, min = 10ms, max = 5s, log, name = "http.timeout")]
/// static TIMEOUT: Knob<Duration>;
///
/// #[knob(default = 0.5, min = 0.0, max = 1.0, step = 0.1)]
/// static SAMPLE_RATIO: Knob<f64>;
///
/// #[knob(default = true)]
/// static CACHE: Knob<bool>;
///
/// #[derive(Clone, Copy, Debug, KnobValue)]
/// enum Codec { None, Lz4, Zstd }
///
/// #[knob(default = Codec::Lz4, cost = 0.5)]
/// static CODEC: Knob<Codec>;
///
/// assert_eq!(DB_POOL.get(), 8);
/// assert_eq!(TIMEOUT.get(), Duration::from_millis(200));
/// assert_eq!(TIMEOUT.name(), "http.timeout");
/// assert_eq!(DB_POOL.doc(), "Connections the recipe service keeps open.");
/// assert!(CACHE.get() && SAMPLE_RATIO.get() == 0.5);
/// assert!(matches!(CODEC.get(), Codec::Lz4));
/// ```
///
/// # Keys
///
/// | key | meaning |
/// |---|---|
/// | `default = v` | the initial value (required) |
/// | `min = v`, `max = v` | inclusive bounds; required for numbers and durations, optional for `bool` (`false..=true`) and enums (first..=last variant) |
/// | `step = v` | valid values are `min + k * step` |
/// | `log` or `log = true` | search the knob on a logarithmic scale (needs `min > 0`) |
/// | `cost = x` | how expensive higher values are (a number >= 0; default 0, free) |
/// | `pressure = ".."` or `pressure = ["..", ".."]` | the signals that show the knob's resource under pressure (e.g. `"pool.waiting"`): the loop waits for them to settle after a change and reports the knob as saturated when they rise |
/// | `name = ".."` | the stable name (default: module path and identifier) |
///
/// `T` is an integer type, `f32`, `f64`, `bool`, `Duration` (any path whose last
/// segment is `Duration`) or an enum deriving [`KnobValue`](derive@KnobValue).
/// Values are literals or constant expressions; durations may be written with a
/// unit: `200ms`, `5s`, `100us`, `10ns` (fractions such as `1.5s` too). Declare
/// knobs with the value type itself, not a type alias: the type is read from the
/// syntax (registration reports a mismatch).
///
/// Literal values are checked at compile time: bounds in order, the default within
/// them, a positive step, a non-negative cost, `min > 0` for a log scale.
#[proc_macro_attribute]
pub fn knob(args: TokenStream, item: TokenStream) -> TokenStream {
    knob::expand(args.into(), item.into())
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Declares a service-level objective on a function: `#[slo(p99 < 50ms, errors < 1%)]`.
///
/// Every call is timed into the SLO's lock-free histogram and counted; a call
/// returning `Err` counts as an error (other return types never do); a call that
/// panics, or a future dropped before it completes, is recorded as such. Works on
/// functions, `async fn`s, methods (inherent and trait impls) and axum handlers;
/// an async function's future stays `Send` when it was. Doc comments become the
/// SLO's description.
///
/// ```
/// use finch::slo;
///
/// /// Looking a recipe up.
/// #[slo(p99 < 50ms)]
/// async fn get_recipe(id: u32) -> Result<String, std::io::Error> {
///     Ok(format!("recipe {id}"))
/// }
///
/// #[slo(p95 < 200ms, errors < 1%, name = "houses.create")]
/// fn create_house(name: &str) -> Result<usize, String> {
///     if name.is_empty() {
///         return Err("a house needs a name".into());
///     }
///     Ok(name.len())
/// }
///
/// assert_eq!(create_house("home"), Ok(4));
/// let house = finch::slo_by_name("houses.create").unwrap();
/// assert_eq!(house.calls(), 1);
/// assert_eq!(house.objectives().len(), 2);
/// # drop(get_recipe(1));
/// ```
///
/// # Objectives
///
/// - `p50 | p90 | p95 | p99 | p999 < N<unit>`: the latency quantile stays below
///   the bound; the unit is `us`, `ms` or `s`, the number an integer or a decimal
///   (`1.5s`).
/// - `errors < X%`: the share of failed calls stays below `X` percent
///   (`0 < X < 100`).
/// - `name = ".."`: the stable name (default: module path and function name;
///   give one when two methods of one module share a name).
///
/// Several objectives must all hold; each SLI may be bounded once.
///
/// # Expansion
///
/// The body runs inside `async move { .. }.await` (async functions) or a `move`
/// closure called once (other functions), so `return` and `?` keep their meaning
/// and the return value can be inspected; an `unsafe fn`'s body stays an unsafe
/// context. `const fn`s, `extern` functions and bodiless declarations are refused.
#[proc_macro_attribute]
pub fn slo(args: TokenStream, item: TokenStream) -> TokenStream {
    slo::expand(args.into(), item.into()).into()
}

/// Lets a fieldless enum be a knob's value: each variant is one choice, ordered
/// from the cheapest (first) to the costliest (last).
///
/// The enum must also be `Copy`, `Debug`, `Send`, `Sync` and `'static` (the
/// supertraits of `finch::KnobValue`), so derive `Clone, Copy, Debug` too. Without
/// explicit bounds a knob of the enum ranges over all variants.
///
/// ```
/// use finch::{Knob, KnobValue, knob, knob_by_name};
///
/// #[derive(Clone, Copy, Debug, PartialEq, KnobValue)]
/// enum Compression { Off, Fast, Best }
///
/// #[knob(default = Compression::Fast, name = "doc.compression")]
/// static COMPRESSION: Knob<Compression>;
///
/// assert_eq!(COMPRESSION.get(), Compression::Fast);
/// let knob = knob_by_name("doc.compression").unwrap();
/// assert_eq!(knob.choices(), ["Off", "Fast", "Best"]);
/// knob.set_from_str("Best")?;
/// assert_eq!(COMPRESSION.get(), Compression::Best);
/// # Ok::<(), finch::KnobError>(())
/// ```
///
/// Structs, unions, generic enums, empty enums and variants with fields are
/// refused at compile time.
#[proc_macro_derive(KnobValue)]
pub fn derive_knob_value(input: TokenStream) -> TokenStream {
    syn::parse::<syn::DeriveInput>(input)
        .and_then(derive::expand)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}
