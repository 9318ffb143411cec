//! Values known at expansion time: literals checked against the knob's type,
//! and `cost`.

use std::fmt;

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote};
use syn::{Error, Expr, ExprLit, ExprUnary, Lit, Result, UnOp};

use super::kind::Kind;
use crate::util::{TimeUnit, describe_lit, format_nanos, time_literal};

/// A value known at expansion time, for the checks that need no type checker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Known {
    Int(i128),
    Float(f64),
    Bool(bool),
    Nanos(u128),
}

impl Known {
    pub(super) fn partial_cmp(self, other: Known) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Known::Int(a), Known::Int(b)) => Some(a.cmp(&b)),
            (Known::Float(a), Known::Float(b)) => a.partial_cmp(&b),
            (Known::Bool(a), Known::Bool(b)) => Some(a.cmp(&b)),
            (Known::Nanos(a), Known::Nanos(b)) => Some(a.cmp(&b)),
            _ => None,
        }
    }

    pub(super) fn is_positive(self) -> bool {
        match self {
            Known::Int(v) => v > 0,
            Known::Float(v) => v > 0.0,
            Known::Bool(v) => v,
            Known::Nanos(v) => v > 0,
        }
    }
}

impl fmt::Display for Known {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Known::Int(v) => write!(f, "{v}"),
            Known::Float(v) => write!(f, "{v:?}"),
            Known::Bool(v) => write!(f, "{v}"),
            Known::Nanos(v) => f.write_str(&format_nanos(*v)),
        }
    }
}

/// A checked value: the tokens to emit and, for a literal, the value itself.
pub(super) struct Value {
    pub(super) tokens: TokenStream,
    pub(super) known: Option<Known>,
}

impl ToTokens for Value {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.tokens.to_tokens(tokens);
    }
}

/// `lit` or `-lit`, if the expression is one.
fn literal(expr: &Expr) -> Option<(bool, &Lit)> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some((false, lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => Some((true, lit)),
            _ => None,
        },
        Expr::Group(g) => literal(&g.expr),
        Expr::Paren(p) => literal(&p.expr),
        _ => None,
    }
}

const INT_SUFFIXES: &[&str] = &[
    "", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];

/// Checks a `default`, `min`, `max` or `step` against the knob's type.
pub(super) fn value(kind: Kind, expr: &Expr) -> Result<Value> {
    let Some((negative, lit)) = literal(expr) else {
        return Ok(Value {
            tokens: expr.to_token_stream(),
            known: None,
        });
    };
    let found = |expected: &str| {
        Error::new_spanned(
            expr,
            format!("expected {expected}, found {}", describe_lit(lit)),
        )
    };
    let known = match (kind, lit) {
        (Kind::Unsigned(_) | Kind::Signed, Lit::Int(i)) => {
            if !INT_SUFFIXES.contains(&i.suffix()) {
                return Err(Error::new(
                    i.span(),
                    format!(
                        "`{}` is not an integer suffix; write a plain integer such as `{}`",
                        i.suffix(),
                        i.base10_digits()
                    ),
                ));
            }
            let v: i128 = i.base10_parse()?;
            if let (Kind::Unsigned(ty), true) = (kind, negative && v != 0) {
                return Err(Error::new_spanned(
                    expr,
                    format!("a `{ty}` knob cannot take a negative value"),
                ));
            }
            Known::Int(if negative { -v } else { v })
        }
        (Kind::Unsigned(_) | Kind::Signed, _) => {
            return Err(found("an integer (such as `8`) or a constant expression"));
        }
        (Kind::Float32 | Kind::Float64, Lit::Int(i)) if i.suffix().is_empty() => {
            let v: f64 = i.base10_parse()?;
            let mut float = Literal::f64_unsuffixed(v);
            float.set_span(i.span());
            let sign = negative.then(|| quote!(-));
            let v = if negative { -v } else { v };
            return Ok(Value {
                tokens: quote!(#sign #float),
                known: Some(Known::Float(v)),
            });
        }
        (Kind::Float32 | Kind::Float64, Lit::Float(f))
            if matches!(f.suffix(), "" | "f32" | "f64") =>
        {
            let v: f64 = f.base10_parse()?;
            Known::Float(if negative { -v } else { v })
        }
        (Kind::Float32 | Kind::Float64, _) => {
            return Err(found("a number (such as `0.5`) or a constant expression"));
        }
        (Kind::Bool, Lit::Bool(b)) if !negative => Known::Bool(b.value),
        (Kind::Bool, _) => return Err(found("`true` or `false`")),
        (Kind::Duration, Lit::Int(_) | Lit::Float(_)) => {
            if negative {
                return Err(Error::new_spanned(expr, "a duration cannot be negative"));
            }
            let time = time_literal(
                lit,
                &[
                    TimeUnit::Nanos,
                    TimeUnit::Micros,
                    TimeUnit::Millis,
                    TimeUnit::Secs,
                ],
                "ns, us, ms or s",
                |digits| {
                    format!(
                        "add a unit to the duration, as in `{digits}ms` (ns, us, ms or s), \
                         or write a `Duration` expression"
                    )
                },
            )?;
            return Ok(Value {
                tokens: time.tokens,
                known: Some(Known::Nanos(time.nanos)),
            });
        }
        (Kind::Duration, _) => {
            return Err(found(
                "a duration such as `200ms` or a `Duration` constant expression",
            ));
        }
        (Kind::Enum, _) => {
            return Err(found("a variant of the knob's enum (such as `Codec::Lz4`)"));
        }
    };
    Ok(Value {
        tokens: expr.to_token_stream(),
        known: Some(known),
    })
}

/// Checks `cost`: a number >= 0.
pub(super) fn cost(expr: &Expr) -> Result<Value> {
    let Some((negative, lit)) = literal(expr) else {
        return Ok(Value {
            tokens: expr.to_token_stream(),
            known: None,
        });
    };
    let v: f64 = match lit {
        Lit::Int(i) if i.suffix().is_empty() => i.base10_parse()?,
        Lit::Float(f) if matches!(f.suffix(), "" | "f64") => f.base10_parse()?,
        _ => {
            return Err(Error::new_spanned(
                expr,
                format!("expected a cost such as `1.0`, found {}", describe_lit(lit)),
            ));
        }
    };
    if negative && v != 0.0 {
        return Err(Error::new_spanned(
            expr,
            "a cost cannot be negative; use a number >= 0 (0 means free)",
        ));
    }
    let mut float = Literal::f64_unsuffixed(v);
    float.set_span(lit.span());
    Ok(Value {
        tokens: float.into_token_stream(),
        known: Some(Known::Float(v)),
    })
}
