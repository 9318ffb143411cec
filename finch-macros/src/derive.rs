//! `#[derive(KnobValue)]` on fieldless enums.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Error, Fields, Result};

/// Expands the derive.
pub(crate) fn expand(input: DeriveInput) -> Result<TokenStream> {
    let DeriveInput {
        vis,
        ident,
        generics,
        data,
        ..
    } = input;
    let data = match data {
        Data::Enum(data) => data,
        Data::Struct(s) => {
            return Err(Error::new(
                s.struct_token.span,
                "`KnobValue` can only be derived for an enum of fieldless variants; for a \
                 struct, implement `finch::KnobValue` by hand",
            ));
        }
        Data::Union(u) => {
            return Err(Error::new(
                u.union_token.span,
                "`KnobValue` can only be derived for an enum of fieldless variants, not a union",
            ));
        }
    };
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        return Err(Error::new_spanned(
            &generics,
            "`KnobValue` cannot be derived for a generic enum; remove the generic parameters",
        ));
    }
    if let Some(variant) = data
        .variants
        .iter()
        .find(|v| !matches!(v.fields, Fields::Unit))
    {
        return Err(Error::new_spanned(
            variant,
            format!(
                "variant `{}` has fields; every choice of a knob enum must be a fieldless \
                 variant such as `{}`",
                variant.ident, variant.ident
            ),
        ));
    }
    let variants: Vec<_> = data.variants.iter().map(|v| &v.ident).collect();
    let (Some(first), Some(last)) = (variants.first(), variants.last()) else {
        return Err(Error::new(
            ident.span(),
            "an enum without variants has no value a knob could hold; add variants",
        ));
    };
    let names: Vec<String> = variants.iter().map(|v| v.unraw().to_string()).collect();
    let indices: Vec<usize> = (0..variants.len()).collect();
    let positions = indices.iter().map(|&i| Literal::f64_unsuffixed(i as f64));
    let discriminants: Vec<_> = indices
        .iter()
        .map(|i| format_ident!("__FINCH_D{}", i, span = Span::mixed_site()))
        .collect();
    let top = Literal::f64_unsuffixed((variants.len() - 1) as f64);

    Ok(quote! {
        impl ::finch::__private::KnobValue for #ident {
            const KIND: ::finch::__private::KnobKind = ::finch::__private::KnobKind::Choice;

            #[inline(always)]
            fn to_bits(self) -> u64 {
                self as i64 as u64
            }

            #[inline]
            fn from_bits(bits: u64) -> Self {
                #(const #discriminants: u64 = #ident::#variants as i64 as u64;)*
                match bits {
                    #(#discriminants => #ident::#variants,)*
                    _ => #ident::#first,
                }
            }

            fn to_f64(self) -> f64 {
                match self {
                    #(#ident::#variants => #positions,)*
                }
            }

            fn from_f64(x: f64) -> ::core::option::Option<Self> {
                if x.is_nan() {
                    return ::core::option::Option::None;
                }
                ::core::option::Option::Some(match x.round().clamp(0.0, #top) as usize {
                    #(#indices => #ident::#variants,)*
                    _ => #ident::#last,
                })
            }

            fn compare(self, other: Self) -> ::core::cmp::Ordering {
                <Self as ::finch::__private::KnobValue>::to_f64(self)
                    .total_cmp(&<Self as ::finch::__private::KnobValue>::to_f64(other))
            }

            fn natural_bounds() -> ::core::option::Option<(Self, Self)> {
                ::core::option::Option::Some((#ident::#first, #ident::#last))
            }

            fn choices() -> &'static [&'static str] {
                &[#(#names),*]
            }

            fn to_value(self) -> ::finch::__private::Value {
                ::finch::__private::Value::Choice(match self {
                    #(#ident::#variants => #names,)*
                })
            }
        }

        impl #ident {
            #[doc(hidden)]
            #vis const __FINCH_MIN: Self = #ident::#first;
            #[doc(hidden)]
            #vis const __FINCH_MAX: Self = #ident::#last;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn error(input: DeriveInput) -> String {
        expand(input).map_or_else(|e| e.to_string(), |t| t.to_string())
    }

    #[test]
    fn fieldless_enums_get_an_impl_and_bounds() -> Result<()> {
        let out = expand(parse_quote! {
            enum Codec { None, Lz4, r#Zstd }
        })?
        .to_string();
        assert!(out.contains("impl :: finch :: __private :: KnobValue for Codec"));
        assert!(out.contains(r#"& ["None" , "Lz4" , "Zstd"]"#));
        assert!(out.contains("const __FINCH_MIN : Self = Codec :: None"));
        assert!(out.contains("const __FINCH_MAX : Self = Codec :: r#Zstd"));
        Ok(())
    }

    #[test]
    fn other_shapes_are_refused() {
        assert!(
            error(parse_quote!(
                struct S;
            ))
            .contains("struct")
        );
        assert!(error(parse_quote!(union U { a: u8 })).contains("union"));
        assert!(
            error(parse_quote!(
                enum E {}
            ))
            .contains("without variants")
        );
        assert!(
            error(parse_quote!(
                enum E {
                    A,
                    B(u8),
                }
            ))
            .contains("variant `B` has fields")
        );
        assert!(
            error(parse_quote!(
                enum E<T> {
                    A,
                    B,
                }
            ))
            .contains("generic")
        );
    }
}
