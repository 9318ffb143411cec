//! Helpers shared by the attributes: doc strings, time units, literal descriptions.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// The documentation of an item as a `&'static str` expression: literal doc
/// lines are joined with newlines (one leading space stripped, as rustdoc does);
/// `#[doc = include_str!(..)]` and other non-literal forms go through `concat!`.
pub(crate) fn doc_string(attrs: &[Attribute]) -> TokenStream {
    let mut parts: Vec<TokenStream> = Vec::new();
    let mut text = String::new();
    let mut has_text = false;
    for attr in attrs {
        let Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        if !nv.path.is_ident("doc") {
            continue;
        }
        if has_text {
            text.push('\n');
        }
        has_text = true;
        match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => {
                let line = s.value();
                text.push_str(line.strip_prefix(' ').unwrap_or(&line));
            }
            other => {
                parts.push(quote!(#text));
                text.clear();
                parts.push(quote!(#other));
            }
        }
    }
    if parts.is_empty() {
        let text = text.trim_end();
        return quote!(#text);
    }
    parts.push(quote!(#text));
    quote!(::core::concat!(#(#parts),*))
}

/// A unit suffix of a time literal (`200ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Nanos,
    Micros,
    Millis,
    Secs,
}

impl TimeUnit {
    /// The unit a suffix names, if any.
    pub(crate) fn from_suffix(suffix: &str) -> Option<Self> {
        match suffix {
            "ns" => Some(TimeUnit::Nanos),
            "us" => Some(TimeUnit::Micros),
            "ms" => Some(TimeUnit::Millis),
            "s" => Some(TimeUnit::Secs),
            _ => None,
        }
    }

    fn nanos(self) -> u128 {
        match self {
            TimeUnit::Nanos => 1,
            TimeUnit::Micros => 1_000,
            TimeUnit::Millis => 1_000_000,
            TimeUnit::Secs => 1_000_000_000,
        }
    }

    fn constructor(self) -> &'static str {
        match self {
            TimeUnit::Nanos => "from_nanos",
            TimeUnit::Micros => "from_micros",
            TimeUnit::Millis => "from_millis",
            TimeUnit::Secs => "from_secs",
        }
    }
}

/// A duration written as a literal with a unit suffix: the constant expression
/// building it and its length in nanoseconds.
pub(crate) struct TimeLiteral {
    pub(crate) tokens: TokenStream,
    pub(crate) nanos: u128,
}

/// Reads `200ms` or `1.5s`. `units` lists the accepted units and `hint` how to
/// name them in an error (`"us, ms or s"`). A literal without a suffix is refused
/// with `missing_unit`.
pub(crate) fn time_literal(
    lit: &Lit,
    units: &[TimeUnit],
    hint: &str,
    missing_unit: impl FnOnce(&str) -> String,
) -> syn::Result<TimeLiteral> {
    let (digits, suffix, span) = match lit {
        Lit::Int(i) => (i.base10_digits().to_string(), i.suffix(), i.span()),
        Lit::Float(f) => (f.base10_digits().to_string(), f.suffix(), f.span()),
        other => {
            return Err(syn::Error::new(
                other.span(),
                format!(
                    "expected a time such as `200ms`, found {}",
                    describe_lit(other)
                ),
            ));
        }
    };
    if suffix.is_empty() {
        return Err(syn::Error::new(span, missing_unit(&digits)));
    }
    let unit = TimeUnit::from_suffix(suffix)
        .filter(|u| units.contains(u))
        .ok_or_else(|| {
            syn::Error::new(span, format!("unknown time unit `{suffix}`; use {hint}"))
        })?;
    let too_large = || {
        syn::Error::new(
            span,
            "this time is too large for a `Duration` of u64 nanoseconds",
        )
    };
    match lit {
        Lit::Int(_) => {
            let value: u64 = digits.parse().map_err(|_| too_large())?;
            let nanos = u128::from(value) * unit.nanos();
            if nanos > u128::from(u64::MAX) {
                return Err(too_large());
            }
            let ctor = syn::Ident::new(unit.constructor(), Span::call_site());
            let value = Literal::u64_unsuffixed(value);
            Ok(TimeLiteral {
                tokens: quote_spanned!(span=> ::core::time::Duration::#ctor(#value)),
                nanos,
            })
        }
        _ => {
            let value: f64 = digits.parse().map_err(|_| too_large())?;
            let nanos = (value * unit.nanos() as f64).round();
            if !(nanos.is_finite() && nanos < u64::MAX as f64) {
                return Err(too_large());
            }
            let nanos = nanos as u64;
            let value = Literal::u64_unsuffixed(nanos);
            Ok(TimeLiteral {
                tokens: quote_spanned!(span=> ::core::time::Duration::from_nanos(#value)),
                nanos: u128::from(nanos),
            })
        }
    }
}

/// How a literal reads in an error message (`a string literal`).
pub(crate) fn describe_lit(lit: &Lit) -> &'static str {
    match lit {
        Lit::Str(_) => "a string literal",
        Lit::ByteStr(_) => "a byte string literal",
        Lit::CStr(_) => "a C string literal",
        Lit::Byte(_) => "a byte literal",
        Lit::Char(_) => "a character literal",
        Lit::Int(i) if !i.suffix().is_empty() => "an integer literal with a suffix",
        Lit::Int(_) => "an integer literal",
        Lit::Float(_) => "a float literal",
        Lit::Bool(_) => "a boolean literal",
        _ => "a literal",
    }
}

/// Formats nanoseconds the way a user would write them (`200ms`, `1.5s`).
pub(crate) fn format_nanos(nanos: u128) -> String {
    for (unit, scale) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if nanos >= scale {
            return if nanos.is_multiple_of(scale) {
                format!("{}{unit}", nanos / scale)
            } else {
                format!("{}{unit}", nanos as f64 / scale as f64)
            };
        }
    }
    format!("{nanos}ns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    const ALL: &[TimeUnit] = &[
        TimeUnit::Nanos,
        TimeUnit::Micros,
        TimeUnit::Millis,
        TimeUnit::Secs,
    ];

    fn time(lit: Lit) -> syn::Result<TimeLiteral> {
        time_literal(&lit, ALL, "ns, us, ms or s", |d| format!("no unit on {d}"))
    }

    #[test]
    fn time_literals_read_units_and_fractions() -> syn::Result<()> {
        let t = time(parse_quote!(200ms))?;
        assert_eq!(t.nanos, 200_000_000);
        assert_eq!(
            t.tokens.to_string(),
            quote!(::core::time::Duration::from_millis(200)).to_string()
        );
        assert_eq!(time(parse_quote!(5s))?.nanos, 5_000_000_000);
        assert_eq!(time(parse_quote!(100us))?.nanos, 100_000);
        assert_eq!(time(parse_quote!(10ns))?.nanos, 10);
        let f = time(parse_quote!(1.5s))?;
        assert_eq!(f.nanos, 1_500_000_000);
        assert!(f.tokens.to_string().contains("from_nanos"));
        Ok(())
    }

    #[test]
    fn time_literals_refuse_missing_unknown_and_huge_units() {
        let missing = time(parse_quote!(50)).map(|t| t.nanos);
        assert_eq!(
            missing.map_err(|e| e.to_string()),
            Err("no unit on 50".into())
        );
        let unknown = time(parse_quote!(50kb)).map(|t| t.nanos);
        assert!(unknown.is_err_and(|e| e.to_string().contains("unknown time unit `kb`")));
        let huge = time(parse_quote!(99999999999999s)).map(|t| t.nanos);
        assert!(huge.is_err());
        let text = time(parse_quote!("5s")).map(|t| t.nanos);
        assert!(text.is_err_and(|e| e.to_string().contains("a string literal")));
        let only_ms = time_literal(&parse_quote!(5ns), &[TimeUnit::Millis], "ms", |d: &str| {
            d.to_string()
        });
        assert!(only_ms.is_err());
    }

    #[test]
    fn doc_strings_join_lines() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[doc = " First line."]),
            parse_quote!(#[inline]),
            parse_quote!(#[doc = " Second."]),
        ];
        assert_eq!(
            doc_string(&attrs).to_string(),
            quote!("First line.\nSecond.").to_string()
        );
        let none: Vec<Attribute> = vec![parse_quote!(#[inline])];
        assert_eq!(doc_string(&none).to_string(), quote!("").to_string());
        let included: Vec<Attribute> = vec![
            parse_quote!(#[doc = " Intro."]),
            parse_quote!(#[doc = include_str!("x.md")]),
        ];
        assert!(doc_string(&included).to_string().contains("concat"));
    }

    #[test]
    fn nanos_format_like_literals() {
        assert_eq!(format_nanos(200_000_000), "200ms");
        assert_eq!(format_nanos(1_500_000_000), "1.5s");
        assert_eq!(format_nanos(7), "7ns");
        assert_eq!(format_nanos(3_000), "3us");
    }
}
