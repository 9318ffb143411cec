//! The annotated item: `static NAME: Knob<T>;`.

use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{
    Attribute, Error, Expr, GenericArgument, Ident, PathArguments, Result, Token, Type, Visibility,
};

/// `static NAME: Knob<T>;`, attributes and visibility kept as written. A `mut`
/// or an initializer is kept to be reported once the type is known.
pub(super) struct KnobItem {
    pub(super) attrs: Vec<Attribute>,
    pub(super) vis: Visibility,
    pub(super) static_token: Token![static],
    pub(super) mutability: Option<Token![mut]>,
    pub(super) ident: Ident,
    pub(super) colon_token: Token![:],
    pub(super) ty: Type,
    pub(super) init: Option<(Token![=], Expr)>,
    pub(super) semi_token: Token![;],
}

impl KnobItem {
    pub(super) fn check(&self) -> Result<()> {
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
pub(super) fn knob_value_type(ty: &Type) -> Result<&Type> {
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
