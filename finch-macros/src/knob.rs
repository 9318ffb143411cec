//! `#[knob(...)]` on `static NAME: Knob<T>;`.

use std::fmt;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{
    Attribute, Error, Expr, ExprLit, ExprUnary, GenericArgument, Ident, Lit, LitBool, LitStr,
    PathArguments, Result, Token, Type, UnOp, Visibility,
};

use crate::util::{TimeUnit, describe_lit, doc_string, format_nanos, time_literal};

const KEYS: &str = "default, min, max, step, log, cost, pressure or name";

/// Expands `#[knob(args)] item`. When the knob's type is fine but something
/// else is wrong, the type is still referenced beside the error, so its imports
/// do not add warnings.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> Result<TokenStream> {
    let item: KnobItem = syn::parse2(item)?;
    let inner = knob_value_type(&item.ty)?;
    let kind = Kind::of(inner)?;
    let checked = item.check().and_then(|()| {
        let args = syn::parse2::<KnobArgs>(args)?;
        let spec = Spec::check(&args, kind, inner)?;
        Ok((args, spec))
    });
    match checked {
        Ok((args, spec)) => Ok(emit(&item, inner, kind, &args, &spec)),
        Err(e) => {
            let ty = &item.ty;
            let mut out = e.to_compile_error();
            out.extend(quote! {
                const _: () = {
                    let _: ::core::option::Option<&#ty> = ::core::option::Option::None;
                };
            });
            Ok(out)
        }
    }
}

fn emit(item: &KnobItem, inner: &Type, kind: Kind, args: &KnobArgs, spec: &Spec) -> TokenStream {
    let KnobItem {
        attrs,
        vis,
        static_token,
        ident,
        colon_token,
        ty,
        semi_token,
        ..
    } = item;
    let name = match &args.name {
        Some(name) => name.to_token_stream(),
        None => {
            let ident = ident.unraw().to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #ident))
        }
    };
    let doc = doc_string(attrs);
    let Spec {
        default,
        min,
        max,
        step,
        log,
        cost,
    } = spec;
    let pressure = args.pressure.as_deref().unwrap_or_default();
    let step = match step {
        Some(step) => quote!(::core::option::Option::Some(#step)),
        None => quote!(::core::option::Option::None),
    };
    let bits = match kind {
        Kind::Float64 => quote!(::core::primitive::f64::to_bits(#default)),
        Kind::Float32 => quote!(::core::primitive::f32::to_bits(#default) as u64),
        Kind::Duration => quote!(::finch::__private::duration_bits(#default)),
        Kind::Unsigned(_) | Kind::Signed | Kind::Bool | Kind::Enum => {
            quote!((#default) as i64 as u64)
        }
    };
    quote! {
        #(#attrs)*
        #[allow(clippy::unnecessary_cast)]
        #vis #static_token #ident #colon_token #ty = ::finch::Knob::<#inner>::__from_spec(
            ::finch::__private::KnobSpec::__new(
                #name, #doc, #default, #min, #max, #step, #log, #cost, &[#(#pressure),*],
            ),
            #bits,
        ) #semi_token
        ::finch::__private::inventory::submit! {
            ::finch::__private::StaticKnob::__new(&#ident)
        }
    }
}

/// One `key = value` of the attribute.
struct Arg {
    key: Ident,
    value: Expr,
}

/// The attribute's arguments, each at most once.
#[derive(Default)]
struct KnobArgs {
    default: Option<Arg>,
    min: Option<Arg>,
    max: Option<Arg>,
    step: Option<Arg>,
    cost: Option<Arg>,
    log: Option<(Ident, bool)>,
    name: Option<LitStr>,
    pressure: Option<Vec<LitStr>>,
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

/// `static NAME: Knob<T>;`, attributes and visibility kept as written. A `mut`
/// or an initializer is kept to be reported once the type is known.
struct KnobItem {
    attrs: Vec<Attribute>,
    vis: Visibility,
    static_token: Token![static],
    mutability: Option<Token![mut]>,
    ident: Ident,
    colon_token: Token![:],
    ty: Type,
    init: Option<(Token![=], Expr)>,
    semi_token: Token![;],
}

impl KnobItem {
    fn check(&self) -> Result<()> {
        if let Some(mutability) = self.mutability {
            return Err(Error::new(
                mutability.span,
                "a knob cannot be `static mut`; remove `mut` (its value changes through \
                 `Knob::set` or finch's loop)",
            ));
        }
        if let Some((eq, init)) = &self.init {
            return Err(Error::new_spanned(
                quote!(#eq #init),
                "remove the initializer, #[knob] supplies it (give the value as `default = ..`)",
            ));
        }
        Ok(())
    }
}

impl Parse for KnobItem {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![static]) {
            return Err(Error::new(
                input.span(),
                "#[knob] goes on a static without initializer: `static NAME: Knob<T>;`",
            ));
        }
        let static_token = input.parse()?;
        let mutability = input.parse()?;
        let ident = input.parse()?;
        let colon_token = input.parse()?;
        let ty = input.parse()?;
        let init = if input.peek(Token![=]) {
            Some((input.parse()?, input.parse()?))
        } else {
            None
        };
        let semi_token = input.parse()?;
        Ok(KnobItem {
            attrs,
            vis,
            static_token,
            mutability,
            ident,
            colon_token,
            ty,
            init,
            semi_token,
        })
    }
}

/// `T` of `Knob<T>`.
fn knob_value_type(ty: &Type) -> Result<&Type> {
    let wrong = || {
        Error::new_spanned(
            ty,
            "a knob's type must be `Knob<T>` (e.g. `Knob<u32>`, `Knob<Duration>`)",
        )
    };
    let Type::Path(path) = ty else {
        return Err(wrong());
    };
    let last = path.path.segments.last().ok_or_else(wrong)?;
    if last.ident != "Knob" || path.qself.is_some() {
        return Err(wrong());
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Err(wrong());
    };
    match (args.args.len(), args.args.first()) {
        (1, Some(GenericArgument::Type(inner))) => Ok(inner),
        _ => Err(wrong()),
    }
}

/// The value type of a knob, as far as its syntax tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// An unsigned integer; the name is for messages.
    Unsigned(&'static str),
    Signed,
    Float32,
    Float64,
    Bool,
    Duration,
    /// Any other path: an enum deriving `KnobValue`.
    Enum,
}

impl Kind {
    fn of(ty: &Type) -> Result<Self> {
        let unsupported = || {
            Error::new_spanned(
                ty,
                "unsupported knob type; use an integer type, f32, f64, bool, Duration or an \
                 enum deriving `KnobValue`",
            )
        };
        let path = match ty {
            Type::Path(p) if p.qself.is_none() => &p.path,
            Type::Group(g) => return Kind::of(&g.elem),
            Type::Paren(p) => return Kind::of(&p.elem),
            _ => return Err(unsupported()),
        };
        let last = path.segments.last().ok_or_else(unsupported)?;
        if !last.arguments.is_none() {
            return Err(unsupported());
        }
        // `u32`, or `core::primitive::u32` / `std::primitive::u32`.
        let prefix: Vec<String> = path
            .segments
            .iter()
            .rev()
            .skip(1)
            .map(|s| s.ident.to_string())
            .collect();
        let simple = match prefix.as_slice() {
            [] => path.leading_colon.is_none(),
            [module, krate] => module == "primitive" && (krate == "core" || krate == "std"),
            _ => false,
        };
        let name = last.ident.to_string();
        Ok(match name.as_str() {
            "Duration" => Kind::Duration,
            _ if !simple => Kind::Enum,
            "u8" => Kind::Unsigned("u8"),
            "u16" => Kind::Unsigned("u16"),
            "u32" => Kind::Unsigned("u32"),
            "u64" => Kind::Unsigned("u64"),
            "usize" => Kind::Unsigned("usize"),
            "i8" | "i16" | "i32" | "i64" | "isize" => Kind::Signed,
            "f32" => Kind::Float32,
            "f64" => Kind::Float64,
            "bool" => Kind::Bool,
            _ => Kind::Enum,
        })
    }

    fn is_number(self) -> bool {
        !matches!(self, Kind::Bool | Kind::Enum)
    }
}

/// A value known at expansion time, for the checks that need no type checker.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Known {
    Int(i128),
    Float(f64),
    Bool(bool),
    Nanos(u128),
}

impl Known {
    fn partial_cmp(self, other: Known) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Known::Int(a), Known::Int(b)) => Some(a.cmp(&b)),
            (Known::Float(a), Known::Float(b)) => a.partial_cmp(&b),
            (Known::Bool(a), Known::Bool(b)) => Some(a.cmp(&b)),
            (Known::Nanos(a), Known::Nanos(b)) => Some(a.cmp(&b)),
            _ => None,
        }
    }

    fn is_positive(self) -> bool {
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
struct Value {
    tokens: TokenStream,
    known: Option<Known>,
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
fn value(kind: Kind, expr: &Expr) -> Result<Value> {
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
fn cost(expr: &Expr) -> Result<Value> {
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

/// The checked declaration, ready to emit.
struct Spec {
    default: Value,
    min: Value,
    max: Value,
    step: Option<Value>,
    log: bool,
    cost: Value,
}

impl Spec {
    fn check(args: &KnobArgs, kind: Kind, inner: &Type) -> Result<Self> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: TokenStream, item: TokenStream) -> String {
        match expand(args, item) {
            Ok(tokens) => tokens.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    fn check(args: TokenStream, ty: Type) -> Result<Spec> {
        let args: KnobArgs = syn::parse2(args)?;
        let kind = Kind::of(&ty)?;
        Spec::check(&args, kind, &ty)
    }

    fn error(args: TokenStream, ty: Type) -> String {
        check(args, ty).map_or_else(|e| e.to_string(), |_| "no error".into())
    }

    #[test]
    fn keys_parse_once_each() -> Result<()> {
        let args: KnobArgs = syn::parse2(quote!(
            default = 8,
            min = 1,
            max = 64,
            step = 1,
            log,
            cost = 1.5,
            name = "pool"
        ))?;
        assert!(args.default.is_some() && args.step.is_some() && args.cost.is_some());
        assert_eq!(args.log.map(|(_, v)| v), Some(true));
        assert_eq!(args.name.map(|n| n.value()).as_deref(), Some("pool"));
        let pressured: KnobArgs = syn::parse2(quote!(
            default = 1,
            pressure = ["pool.waiting", "pool.in_use"]
        ))?;
        assert_eq!(pressured.pressure.map(|p| p.len()), Some(2));
        let one: KnobArgs = syn::parse2(quote!(pressure = "pool.waiting"))?;
        assert_eq!(
            one.pressure.map(|p| p[0].value()),
            Some("pool.waiting".to_string())
        );
        let off: KnobArgs = syn::parse2(quote!(default = 1, log = false,))?;
        assert_eq!(off.log.map(|(_, v)| v), Some(false));

        let err = |t: TokenStream| syn::parse2::<KnobArgs>(t).err().map(|e| e.to_string());
        assert!(err(quote!(maximum = 3)).is_some_and(|e| e.contains("unknown key `maximum`")));
        assert!(err(quote!(min = 1, min = 2)).is_some_and(|e| e.contains("given twice")));
        assert!(err(quote!(default 8)).is_some_and(|e| e.contains("expected `=` after")));
        assert!(err(quote!(log = 1)).is_some_and(|e| e.contains("`true` or `false`")));
        assert!(err(quote!(name = "")).is_some_and(|e| e.contains("cannot be empty")));
        assert!(err(quote!(name = pool)).is_some_and(|e| e.contains("string literal")));
        assert!(err(quote!(pressure = 3)).is_some_and(|e| e.contains("signal name")));
        assert!(err(quote!(pressure = [""])).is_some_and(|e| e.contains("cannot be empty")));
        Ok(())
    }

    #[test]
    fn types_are_read_from_the_syntax() -> Result<()> {
        let kind = |ty: Type| Kind::of(&ty);
        assert_eq!(kind(syn::parse_quote!(u32))?, Kind::Unsigned("u32"));
        assert_eq!(kind(syn::parse_quote!(i8))?, Kind::Signed);
        assert_eq!(
            kind(syn::parse_quote!(core::primitive::f64))?,
            Kind::Float64
        );
        assert_eq!(kind(syn::parse_quote!(f32))?, Kind::Float32);
        assert_eq!(kind(syn::parse_quote!(bool))?, Kind::Bool);
        assert_eq!(
            kind(syn::parse_quote!(std::time::Duration))?,
            Kind::Duration
        );
        assert_eq!(kind(syn::parse_quote!(my::u32))?, Kind::Enum);
        assert_eq!(kind(syn::parse_quote!(Codec))?, Kind::Enum);
        assert!(kind(syn::parse_quote!(&'static str)).is_err());
        assert!(kind(syn::parse_quote!(Vec<u8>)).is_err());

        let inner = |ty: Type| knob_value_type(&ty).map(|t| t.to_token_stream().to_string());
        assert_eq!(inner(syn::parse_quote!(finch::Knob<u8>))?, "u8");
        assert!(inner(syn::parse_quote!(u8)).is_err());
        assert!(inner(syn::parse_quote!(Knob<u8, u16>)).is_err());
        assert!(inner(syn::parse_quote!(Knob)).is_err());
        Ok(())
    }

    #[test]
    fn literal_values_are_checked() {
        let u32_ty: Type = syn::parse_quote!(u32);
        let dur: Type = syn::parse_quote!(Duration);
        assert_eq!(
            error(quote!(default = 8, min = 1, max = 64), u32_ty.clone()),
            "no error"
        );
        assert!(error(quote!(min = 1, max = 64), u32_ty.clone()).contains("missing `default`"));
        assert!(error(quote!(default = 8, max = 64), u32_ty.clone()).contains("missing `min`"));
        assert!(error(quote!(default = 8, min = 64, max = 1), u32_ty.clone()).contains("swap"));
        assert!(error(quote!(default = 80, min = 1, max = 64), u32_ty.clone()).contains("outside"));
        assert!(
            error(quote!(default = 8, min = -1, max = 64), u32_ty.clone()).contains("negative")
        );
        assert!(error(quote!(default = "8", min = 1, max = 64), u32_ty.clone()).contains("string"));
        assert!(
            error(quote!(default = 8, min = 0, max = 64, log), u32_ty.clone()).contains("min > 0")
        );
        assert!(
            error(
                quote!(default = 8, min = 0, max = 64, step = 0),
                u32_ty.clone()
            )
            .contains("positive")
        );
        assert!(
            error(
                quote!(default = 8, min = 0, max = 64, cost = -2),
                u32_ty.clone()
            )
            .contains("negative")
        );
        assert!(
            error(quote!(default = 8, min = 0, max = 64, cost = "1"), u32_ty).contains("a cost")
        );
        assert!(
            error(quote!(default = 10s, min = 1ms, max = 5s), dur.clone())
                .contains("10s lies outside")
        );
        assert!(
            error(quote!(default = 200, min = 1ms, max = 5s), dur.clone()).contains("add a unit")
        );
        assert!(
            error(quote!(default = -1ms, min = 1ms, max = 5s), dur.clone()).contains("negative")
        );
        assert_eq!(
            error(quote!(default = X, min = 1ms, max = 5s), dur),
            "no error"
        );
        assert_eq!(
            error(
                quote!(default = -2, min = -10, max = 10),
                syn::parse_quote!(i64)
            ),
            "no error"
        );
        assert!(
            error(
                quote!(default = -20, min = -10, max = 10),
                syn::parse_quote!(i64)
            )
            .contains("-20")
        );
        assert_eq!(
            error(quote!(default = true), syn::parse_quote!(bool)),
            "no error"
        );
        assert!(error(quote!(default = 1), syn::parse_quote!(bool)).contains("`true` or `false`"));
        assert!(error(quote!(default = true, log), syn::parse_quote!(bool)).contains("log scale"));
        assert!(error(quote!(default = 1), syn::parse_quote!(Codec)).contains("variant"));
        assert!(
            error(
                quote!(default = 0.5, min = 0.6, max = 1),
                syn::parse_quote!(f64)
            )
            .contains("outside")
        );
    }

    #[test]
    fn floats_accept_integer_literals() -> Result<()> {
        let spec = check(
            quote!(default = 1, min = -2, max = 8, cost = 3),
            syn::parse_quote!(f64),
        )?;
        assert_eq!(spec.default.tokens.to_string(), "1.0");
        assert_eq!(spec.min.tokens.to_string(), "- 2.0");
        assert_eq!(spec.cost.tokens.to_string(), "3.0");
        Ok(())
    }

    #[test]
    fn expansion_builds_the_static_and_registers_it() {
        let out = expand_str(
            quote!(default = 200ms, min = 10ms, max = 5s, log),
            quote! {
                /// Doc.
                pub static TIMEOUT: Knob<Duration>;
            },
        );
        assert!(out.contains("pub static TIMEOUT : Knob < Duration > = :: finch :: Knob :: < Duration > :: __from_spec"), "{out}");
        assert!(out.contains("from_millis (200)"), "{out}");
        assert!(
            out.contains(":: finch :: __private :: duration_bits"),
            "{out}"
        );
        assert!(out.contains("inventory :: submit !"), "{out}");
        assert!(out.contains("\"TIMEOUT\""), "{out}");
        assert!(out.contains("\"Doc.\""), "{out}");

        let enum_knob = expand_str(
            quote!(default = Codec::Lz4),
            quote!(
                static C: Knob<Codec>;
            ),
        );
        assert!(
            enum_knob.contains("< Codec > :: __FINCH_MIN"),
            "{enum_knob}"
        );
        assert!(
            enum_knob.contains("(Codec :: Lz4) as i64 as u64"),
            "{enum_knob}"
        );
        let float = expand_str(
            quote!(default = 0.5, min = 0.0, max = 1.0),
            quote!(
                static F: Knob<f32>;
            ),
        );
        assert!(float.contains("f32 :: to_bits (0.5) as u64"), "{float}");
    }

    #[test]
    fn wrong_items_are_refused() {
        let args = quote!(default = 8, min = 1, max = 64);
        let on = |item: TokenStream| expand_str(args.clone(), item);
        assert!(
            on(quote!(
                fn f() {}
            ))
            .contains("goes on a static")
        );
        assert!(
            on(quote!(
                const C: Knob<u32>;
            ))
            .contains("goes on a static")
        );
        assert!(
            on(quote!(
                static C: u32;
            ))
            .contains("must be `Knob<T>`")
        );
        // Errors after the type is known keep the type referenced.
        let init = on(quote!(
            static C: Knob<u32> = 8;
        ));
        assert!(
            init.contains("remove the initializer") && init.contains("Option < & Knob < u32 > >"),
            "{init}"
        );
        assert!(
            on(quote!(
                static mut C: Knob<u32>;
            ))
            .contains("`static mut`")
        );
    }
}
