//! The checked declaration, ready to emit.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{Error, Result, Type};

use super::args::{Arg, KnobArgs};
use super::kind::Kind;
use super::value::{Known, Value, cost, value};

/// The checked declaration, ready to emit.
pub(super) struct Spec {
    pub(super) default: Value,
    pub(super) min: Value,
    pub(super) max: Value,
    pub(super) step: Option<Value>,
    pub(super) log: bool,
    pub(super) cost: Value,
}

impl Spec {
    pub(super) fn check(args: &KnobArgs, kind: Kind, inner: &Type) -> Result<Self> {
        let default = args.default.as_ref().ok_or_else(|| {
            Error::new(
                Span::call_site(),
                "missing `default`: give the knob's initial value, as in `#[knob(default = 8, \
                 min = 1, max = 64)]`",
            )
        })?;
        let bound = |arg: &Option<Arg>, key: &str, natural: TokenStream| -> Result<Value> {
            match arg {
                Some(arg) => value(kind, &arg.value),
                None if !kind.is_number() => Ok(Value {
                    tokens: natural,
                    known: None,
                }),
                None => Err(Error::new(
                    Span::call_site(),
                    format!(
                        "missing `{key}`: knobs of numbers and durations need bounds, as in \
                         `min = 1, max = 64`"
                    ),
                )),
            }
        };
        let (natural_min, natural_max) = match kind {
            Kind::Bool => (quote!(false), quote!(true)),
            _ => (quote!(<#inner>::__FINCH_MIN), quote!(<#inner>::__FINCH_MAX)),
        };
        let default_value = value(kind, &default.value)?;
        let min = bound(&args.min, "min", natural_min)?;
        let max = bound(&args.max, "max", natural_max)?;

        let step = match &args.step {
            Some(arg) if !kind.is_number() => {
                return Err(Error::new(
                    arg.key.span(),
                    "`step` applies to numbers and durations only; remove it",
                ));
            }
            Some(arg) => {
                let step = value(kind, &arg.value)?;
                if step.known.is_some_and(|k| !k.is_positive()) {
                    return Err(Error::new_spanned(
                        &arg.value,
                        "a step must be positive; valid values are `min + k * step`",
                    ));
                }
                Some(step)
            }
            None => None,
        };
        let log = match &args.log {
            Some((key, true)) if !kind.is_number() => {
                return Err(Error::new(
                    key.span(),
                    "a log scale applies to numbers and durations only; remove `log`",
                ));
            }
            Some((_, log)) => *log,
            None => false,
        };
        let cost = match &args.cost {
            Some(arg) => cost(&arg.value)?,
            None => Value {
                tokens: quote!(0.0),
                known: None,
            },
        };

        if let (Some(lo), Some(hi), Some(min_arg)) = (min.known, max.known, &args.min)
            && lo.partial_cmp(hi) == Some(std::cmp::Ordering::Greater)
        {
            return Err(Error::new_spanned(
                &min_arg.value,
                format!("min {lo} is greater than max {hi}; swap them"),
            ));
        }
        if let Some(d) = default_value.known {
            let below =
                min.known.and_then(|lo| d.partial_cmp(lo)) == Some(std::cmp::Ordering::Less);
            let above =
                max.known.and_then(|hi| d.partial_cmp(hi)) == Some(std::cmp::Ordering::Greater);
            if below || above {
                let range = |v: Option<Known>, arg: &Option<Arg>| match (v, arg) {
                    (Some(v), _) => v.to_string(),
                    (None, Some(arg)) => arg.value.to_token_stream().to_string(),
                    (None, None) => "..".into(),
                };
                return Err(Error::new_spanned(
                    &default.value,
                    format!(
                        "default {d} lies outside the bounds {}..={}; choose a default within \
                         them or widen `min`/`max`",
                        range(min.known, &args.min),
                        range(max.known, &args.max),
                    ),
                ));
            }
        }
        if let (true, Some(lo), Some(min_arg)) = (log, min.known, &args.min)
            && !lo.is_positive()
        {
            return Err(Error::new_spanned(
                &min_arg.value,
                format!("a log scale needs min > 0, got {lo}; raise `min` or drop `log`"),
            ));
        }
        Ok(Spec {
            default: default_value,
            min,
            max,
            step,
            log,
            cost,
        })
    }
}
