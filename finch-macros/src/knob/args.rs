//! The attribute's arguments: `key = value`, each at most once.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Error, Expr, Ident, LitBool, LitStr, Result, Token};

use super::KEYS;

/// One `key = value` of the attribute.
pub(super) struct Arg {
    pub(super) key: Ident,
    pub(super) value: Expr,
}

/// The attribute's arguments, each at most once.
#[derive(Default)]
pub(super) struct KnobArgs {
    pub(super) default: Option<Arg>,
    pub(super) min: Option<Arg>,
    pub(super) max: Option<Arg>,
    pub(super) step: Option<Arg>,
    pub(super) cost: Option<Arg>,
    pub(super) log: Option<(Ident, bool)>,
    pub(super) name: Option<LitStr>,
    pub(super) pressure: Option<Vec<LitStr>>,
}

fn once<T>(slot: &mut Option<T>, key: &Ident, value: T) -> Result<()> {
    if slot.is_some() {
        return Err(Error::new(
            key.span(),
            format!("`{key}` is given twice; keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn equals(input: ParseStream<'_>, key: &Ident, example: &str) -> Result<()> {
    input.parse::<Token![=]>().map(drop).map_err(|_| {
        Error::new(
            key.span(),
            format!("expected `=` after `{key}`, as in `{key} = {example}`"),
        )
    })
}

impl Parse for KnobArgs {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        let mut args = KnobArgs::default();
        while !input.is_empty() {
            let key = input.call(Ident::parse_any)?;
            match key.unraw().to_string().as_str() {
                "log" => {
                    let value = if input.peek(Token![=]) {
                        input.parse::<Token![=]>()?;
                        let lit: LitBool = input.parse().map_err(|e| {
                            Error::new(e.span(), "expected `true` or `false` after `log =`")
                        })?;
                        lit.value
                    } else {
                        true
                    };
                    once(&mut args.log, &key, (key.clone(), value))?;
                }
                "pressure" => {
                    equals(input, &key, "\"pool.waiting\"")?;
                    let expected = |span| {
                        Error::new(
                            span,
                            "expected a signal name or a list of them, as in \
                             `pressure = \"pool.waiting\"` or `pressure = [\"pool.waiting\", \"pool.in_use\"]`",
                        )
                    };
                    let names: Vec<LitStr> = if input.peek(syn::token::Bracket) {
                        let inner;
                        syn::bracketed!(inner in input);
                        inner
                            .parse_terminated(|i| i.parse::<LitStr>(), Token![,])
                            .map_err(|e| expected(e.span()))?
                            .into_iter()
                            .collect()
                    } else {
                        vec![input.parse::<LitStr>().map_err(|e| expected(e.span()))?]
                    };
                    if let Some(empty) = names.iter().find(|n| n.value().is_empty()) {
                        return Err(Error::new(empty.span(), "a signal name cannot be empty"));
                    }
                    once(&mut args.pressure, &key, names)?;
                }
                "name" => {
                    equals(input, &key, "\"service.pool_size\"")?;
                    let name: LitStr = input.parse().map_err(|e| {
                        Error::new(e.span(), "expected the knob's name as a string literal")
                    })?;
                    if name.value().is_empty() {
                        return Err(Error::new(name.span(), "a knob's name cannot be empty"));
                    }
                    once(&mut args.name, &key, name)?;
                }
                k @ ("default" | "min" | "max" | "step" | "cost") => {
                    let example = if k == "cost" { "1.0" } else { "8" };
                    equals(input, &key, example)?;
                    let value: Expr = input.parse()?;
                    let slot = match k {
                        "default" => &mut args.default,
                        "min" => &mut args.min,
                        "max" => &mut args.max,
                        "step" => &mut args.step,
                        _ => &mut args.cost,
                    };
                    once(
                        slot,
                        &key,
                        Arg {
                            key: key.clone(),
                            value,
                        },
                    )?;
                }
                other => {
                    return Err(Error::new(
                        key.span(),
                        format!("unknown key `{other}`; expected {KEYS}"),
                    ));
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}
