//! `#[slo(...)]` on functions, async functions and methods.

use proc_macro2::{Ident, Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{
    Attribute, Block, Error, Lit, LitStr, Result, ReturnType, Safety, Signature, Stmt, Token, Type,
    Visibility, braced,
};

use crate::util::{TimeUnit, describe_lit, doc_string, time_literal};

const OBJECTIVES: &str = "p50, p90, p95, p99, p999, errors or `name = \"..\"`";

/// Expands `#[slo(args)] item`. On an error in the arguments the function is
/// kept as written beside the error, so its callers do not fail too.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: SloFn = match syn::parse2(item) {
        Ok(func) => func,
        Err(e) => return e.to_compile_error(),
    };
    match syn::parse2::<SloArgs>(args) {
        Ok(args) => func.instrument(&args),
        Err(e) => {
            let mut out = e.to_compile_error();
            func.to_tokens(&mut out);
            out
        }
    }
}

/// Which SLI an objective bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// A latency quantile: its label and the `finch::Quantile` variant.
    Latency(&'static str, &'static str),
    Errors,
}

impl Target {
    fn of(key: &str) -> Option<Self> {
        Some(match key {
            "p50" => Target::Latency("p50", "P50"),
            "p90" => Target::Latency("p90", "P90"),
            "p95" => Target::Latency("p95", "P95"),
            "p99" => Target::Latency("p99", "P99"),
            "p999" => Target::Latency("p999", "P999"),
            "errors" => Target::Errors,
            _ => return None,
        })
    }

    fn example(self) -> &'static str {
        match self {
            Target::Latency(..) => "50ms",
            Target::Errors => "1%",
        }
    }
}

/// One checked objective.
struct Objective {
    target: Target,
    /// The objective as `finch::Objective` constant tokens.
    tokens: TokenStream,
}

/// The attribute's arguments.
#[derive(Default)]
struct SloArgs {
    objectives: Vec<Objective>,
    name: Option<LitStr>,
}

impl Parse for SloArgs {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        let mut args = SloArgs::default();
        while !input.is_empty() {
            let key = input.call(Ident::parse_any)?;
            let text = key.unraw().to_string();
            if text == "name" {
                if args.name.is_some() {
                    return Err(Error::new(key.span(), "`name` is given twice; keep one"));
                }
                input.parse::<Token![=]>().map_err(|_| {
                    Error::new(
                        key.span(),
                        "expected `=` after `name`, as in `name = \"checkout\"`",
                    )
                })?;
                let name: LitStr = input.parse().map_err(|e| {
                    Error::new(e.span(), "expected the SLO's name as a string literal")
                })?;
                if name.value().is_empty() {
                    return Err(Error::new(name.span(), "an SLO's name cannot be empty"));
                }
                args.name = Some(name);
            } else {
                let target = Target::of(&text).ok_or_else(|| {
                    Error::new(
                        key.span(),
                        format!("unknown objective `{text}`; expected {OBJECTIVES}"),
                    )
                })?;
                let objective = objective(input, &key, target)?;
                if args.objectives.iter().any(|o| o.target == objective.target) {
                    return Err(Error::new(
                        key.span(),
                        format!("`{text}` is bounded twice; keep one objective per SLI"),
                    ));
                }
                args.objectives.push(objective);
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if args.objectives.is_empty() {
            return Err(Error::new(
                Span::call_site(),
                "#[slo] needs at least one objective, as in `#[slo(p99 < 50ms)]` or \
                 `#[slo(errors < 1%)]`",
            ));
        }
        Ok(args)
    }
}

/// The rest of `p99 < 50ms` or `errors < 1%` after the key.
fn objective(input: ParseStream<'_>, key: &Ident, target: Target) -> Result<Objective> {
    let example = target.example();
    let lt: Token![<] = input.parse().map_err(|_| {
        let span = if input.is_empty() {
            key.span()
        } else {
            input.span()
        };
        Error::new(
            span,
            format!("expected `<` after `{key}`, as in `{key} < {example}`"),
        )
    })?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(Error::new(
            lt.span,
            format!("expected a bound after `<`, as in `{key} < {example}`"),
        ));
    }
    let lit: Lit = input.parse().map_err(|e| {
        Error::new(
            e.span(),
            format!("expected a number after `<`, as in `{key} < {example}`"),
        )
    })?;
    match target {
        Target::Latency(label, variant) => {
            let time = time_literal(
                &lit,
                &[TimeUnit::Micros, TimeUnit::Millis, TimeUnit::Secs],
                "us, ms or s",
                |digits| {
                    format!(
                        "add a unit to the latency bound, as in `{label} < {digits}ms` (us, ms or s)"
                    )
                },
            )?;
            if time.nanos == 0 {
                return Err(Error::new(
                    lit.span(),
                    "a latency bound must be greater than zero",
                ));
            }
            let variant = Ident::new(variant, Span::call_site());
            let threshold = time.tokens;
            Ok(Objective {
                target,
                tokens: quote! {
                    ::finch::__private::Objective::Latency {
                        quantile: ::finch::__private::Quantile::#variant,
                        threshold: #threshold,
                    }
                },
            })
        }
        Target::Errors => {
            let percent: f64 = match &lit {
                Lit::Int(i) if i.suffix().is_empty() => i.base10_parse()?,
                Lit::Float(f) if f.suffix().is_empty() => f.base10_parse()?,
                _ => {
                    return Err(Error::new(
                        lit.span(),
                        format!(
                            "expected a percentage such as `errors < 1%`, found {}",
                            describe_lit(&lit)
                        ),
                    ));
                }
            };
            let Some(percent_sign) = input.parse::<Option<Token![%]>>()? else {
                return Err(Error::new(
                    lit.span(),
                    format!(
                        "add `%`: an error objective is a percentage, as in `errors < {}%`",
                        lit.to_token_stream()
                    ),
                ));
            };
            if !(percent > 0.0 && percent < 100.0) {
                return Err(Error::new_spanned(
                    quote!(#lit #percent_sign),
                    "an error objective must lie strictly between 0% and 100%, as in \
                     `errors < 1%`",
                ));
            }
            let max = Literal::f64_unsuffixed(percent / 100.0);
            Ok(Objective {
                target,
                tokens: quote!(::finch::__private::Objective::Errors { max: #max }),
            })
        }
    }
}

/// A function with a body, attributes and visibility kept as written.
struct SloFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    inner_attrs: Vec<Attribute>,
    stmts: Vec<Stmt>,
}

impl Parse for SloFn {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let start = input.span();
        let sig: Signature = input.parse().map_err(|_| {
            Error::new(
                start,
                "#[slo] goes on a function, an async function or a method",
            )
        })?;
        if let Some(constness) = sig.constness {
            return Err(Error::new(
                constness.span,
                "#[slo] cannot measure a `const fn` (it may run at compile time); remove \
                 `const` or the attribute",
            ));
        }
        if let Some(abi) = &sig.abi {
            return Err(Error::new_spanned(
                abi,
                "#[slo] does not support `extern` functions; measure a Rust function that \
                 calls this one",
            ));
        }
        if input.peek(Token![;]) {
            return Err(Error::new_spanned(
                &sig,
                "#[slo] needs a function body to measure; put it on the method in each impl \
                 rather than on the trait's declaration",
            ));
        }
        let content;
        braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let stmts = content.call(Block::parse_within)?;
        Ok(SloFn {
            attrs,
            vis,
            sig,
            inner_attrs,
            stmts,
        })
    }
}

impl ToTokens for SloFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let SloFn {
            attrs,
            vis,
            sig,
            inner_attrs,
            stmts,
        } = self;
        quote!(#(#attrs)* #vis #sig { #(#inner_attrs)* #(#stmts)* }).to_tokens(tokens);
    }
}

/// Whether a type mentions `impl Trait` (which cannot be named in a `let`).
fn mentions_impl(ty: &Type) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(i) => i == "impl",
            TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    walk(ty.to_token_stream())
}

impl SloFn {
    /// The function with its body measured.
    fn instrument(&self, args: &SloArgs) -> TokenStream {
        let SloFn {
            attrs,
            vis,
            sig,
            inner_attrs,
            stmts,
        } = self;
        let name = match &args.name {
            Some(name) => name.to_token_stream(),
            None => {
                let ident = sig.ident.unraw().to_string();
                quote!(::core::concat!(::core::module_path!(), "::", #ident))
            }
        };
        let doc = doc_string(attrs);
        let objectives = args.objectives.iter().map(|o| &o.tokens);

        // The declared return type, when it can be named in a `let`.
        let (returns_unit, nameable) = match &sig.output {
            ReturnType::Default => (true, None),
            ReturnType::Type(_, ty) if mentions_impl(ty) => (false, None),
            ReturnType::Type(_, ty) => (false, Some(ty)),
        };
        // A return edge that is never taken, so that `return` and `?` in the body
        // see the declared return type before anything else (as tracing does).
        let fake_return = nameable.map(|ty| {
            quote! {
                #[allow(
                    unknown_lints,
                    unreachable_code,
                    clippy::diverging_sub_expression,
                    clippy::empty_loop,
                    clippy::let_unit_value,
                    clippy::let_with_type_underscore,
                    clippy::needless_return,
                    clippy::unreachable
                )]
                if false {
                    let __finch_fake_return: #ty = loop {};
                    return __finch_fake_return;
                }
            }
        });
        let body = quote!({ #fake_return #(#stmts)* });
        // A closure or async block is no unsafe context, even in an `unsafe fn`.
        let (body, allow_unsafe) = match sig.safety {
            Safety::Unsafe(_) => (
                quote!({ unsafe #body }),
                Some(quote!(#[allow(unused_unsafe)])),
            ),
            _ => (body, None),
        };
        // A sync call ends on the thread it started on, so its timer finds the
        // thread's counters once.
        let (run, start) = if sig.asyncness.is_some() {
            (quote!(async move #body.await), quote!(__FINCH_SLO.start()))
        } else {
            (
                quote!(::finch::__private::call_once(move || #body)),
                quote!(::finch::__private::start_sync(&__FINCH_SLO)),
            )
        };

        let timer = Ident::new("__finch_timer", Span::mixed_site());
        let ret = Ident::new("__finch_ret", Span::mixed_site());
        let run_and_finish = if returns_unit {
            quote! {
                #allow_unsafe
                #run;
                #timer.finish(::finch::__private::Outcome::Ok);
            }
        } else {
            let annotation = nameable.map(|ty| quote!(: #ty));
            quote! {
                #allow_unsafe
                let #ret #annotation = #run;
                #timer.finish(::finch::__private::Outcome::from_failed(
                    (&::finch::__private::OutcomeOf(&#ret)).__finch_failed(),
                ));
                #ret
            }
        };

        quote! {
            #(#attrs)*
            #vis #sig {
                #(#inner_attrs)*
                use ::finch::__private::{IsErrOther as _, IsErrResult as _};
                static __FINCH_SLO: ::finch::__private::Slo = ::finch::__private::slo(
                    ::finch::__private::SloSpec::__new(#name, #doc, &[#(#objectives),*]),
                );
                ::finch::__private::inventory::submit! {
                    ::finch::__private::StaticSlo::__new(&__FINCH_SLO)
                }
                let #timer = #start;
                #run_and_finish
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(tokens: TokenStream) -> Result<SloArgs> {
        syn::parse2(tokens)
    }

    fn error(tokens: TokenStream) -> String {
        args(tokens).map_or_else(
            |e| e.to_string(),
            |a| format!("parsed {} objectives", a.objectives.len()),
        )
    }

    #[test]
    fn objectives_parse_with_units_and_percentages() -> Result<()> {
        let a = args(quote!(p99 < 50ms, p50 < 1.5s, errors < 0.5%, name = "checkout"))?;
        assert_eq!(a.objectives.len(), 3);
        assert_eq!(a.name.map(|n| n.value()).as_deref(), Some("checkout"));
        let latency = a.objectives[0].tokens.to_string();
        assert!(latency.contains("Quantile :: P99"), "{latency}");
        assert!(latency.contains("from_millis (50)"), "{latency}");
        assert!(
            a.objectives[1]
                .tokens
                .to_string()
                .contains("from_nanos (1500000000)")
        );
        assert!(a.objectives[2].tokens.to_string().contains("max : 0.005"));
        assert_eq!(args(quote!(p999 < 100us))?.objectives.len(), 1);
        Ok(())
    }

    #[test]
    fn malformed_objectives_say_how_to_fix_them() {
        assert!(error(quote!(p98 < 5ms)).contains("unknown objective `p98`"));
        assert!(error(quote!(p99 < 50)).contains("add a unit"));
        assert!(error(quote!(p99 < 50kb)).contains("unknown time unit `kb`"));
        assert!(error(quote!(p99 50ms)).contains("expected `<` after `p99`"));
        assert!(error(quote!(p99)).contains("expected `<` after `p99`"));
        assert!(error(quote!(p99 <)).contains("expected a bound after `<`"));
        assert!(error(quote!(p99 < 0ms)).contains("greater than zero"));
        assert!(error(quote!(errors < 1)).contains("add `%`"));
        assert!(error(quote!(errors < 0%)).contains("strictly between"));
        assert!(error(quote!(errors < 150%)).contains("strictly between"));
        assert!(error(quote!(errors < "1"%)).contains("a string literal"));
        assert!(error(quote!(p99 < 5ms, p99 < 9ms)).contains("bounded twice"));
        assert!(error(quote!()).contains("at least one objective"));
        assert!(error(quote!(name = "x")).contains("at least one objective"));
        assert!(error(quote!(name = "", p99 < 1s)).contains("cannot be empty"));
    }

    #[test]
    fn only_functions_with_bodies_are_accepted() {
        let parse = |t: TokenStream| {
            syn::parse2::<SloFn>(t)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(
            parse(quote!(
                fn f(&self) -> &str {
                    &self.0
                }
            ))
            .is_ok()
        );
        assert!(
            parse(quote!(
                pub async unsafe fn f() {
                    #![allow(unused)]
                }
            ))
            .is_ok()
        );
        assert!(
            parse(quote!(
                const fn f() {}
            ))
            .is_err_and(|e| e.contains("const fn"))
        );
        assert!(
            parse(quote!(
                extern "C" fn f() {}
            ))
            .is_err_and(|e| e.contains("extern"))
        );
        assert!(
            parse(quote!(
                fn f(&self);
            ))
            .is_err_and(|e| e.contains("body"))
        );
        assert!(
            parse(quote!(
                struct S;
            ))
            .is_err_and(|e| e.contains("goes on a function"))
        );
    }

    #[test]
    fn impl_trait_returns_are_detected() {
        let ty: Type = syn::parse_quote!(Box<impl Fn() + '_>);
        assert!(mentions_impl(&ty));
        let ty: Type = syn::parse_quote!(Result<&str, Error>);
        assert!(!mentions_impl(&ty));
    }
}
