//! What a knob's value type is, as far as its syntax tells.

use syn::{Error, Result, Type};

/// The value type of a knob, as far as its syntax tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
    pub(super) fn of(ty: &Type) -> Result<Self> {
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

    pub(super) fn is_number(self) -> bool {
        !matches!(self, Kind::Bool | Kind::Enum)
    }
}
