//! `#[knob(...)]` on `static NAME: Knob<T>;`: [`args`] parses the attribute,
//! [`item`] the static, [`kind`] classifies its value type, [`value`] checks
//! literal values against it, [`spec`] checks the declaration as a whole; this
//! module expands it.

mod args;
mod item;
mod kind;
mod spec;
mod value;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::{Result, Type};

use self::args::KnobArgs;
use self::item::{KnobItem, knob_value_type};
use self::kind::Kind;
use self::spec::Spec;
use crate::util::doc_string;

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
        #vis #static_token #ident #colon_token #ty = ::finch::__private::knob::<#inner>(
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
        assert!(out.contains("pub static TIMEOUT : Knob < Duration > = :: finch :: __private :: knob :: < Duration >"), "{out}");
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
