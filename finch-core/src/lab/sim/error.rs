//! The error of the simulation components: an invalid parameter, named with its fix.

use thiserror::Error;

/// An invalid parameter given to a simulation component.
///
/// Every variant says which parameter was wrong and how to fix it, so that a
/// scenario author can correct the call without reading the component's code.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SimError {
    /// A numeric parameter is outside its domain.
    #[error("invalid {param} = {value}: {fix}")]
    Invalid {
        /// The parameter, e.g. `"pool capacity"`.
        param: &'static str,
        /// The value given, formatted.
        value: String,
        /// What a valid value looks like.
        fix: &'static str,
    },
    /// An id (station, processor, cache, operation) that this service did not hand out.
    #[error("unknown {kind} id {index}: use an id returned by this service's `add_*` methods")]
    UnknownId {
        /// The kind of id, e.g. `"station"`.
        kind: &'static str,
        /// The index carried by the id.
        index: usize,
    },
}

impl SimError {
    /// Builds [`SimError::Invalid`].
    pub(crate) fn invalid(
        param: &'static str,
        value: impl std::fmt::Display,
        fix: &'static str,
    ) -> Self {
        Self::Invalid {
            param,
            value: value.to_string(),
            fix,
        }
    }
}

/// Checks that `value` is finite and strictly positive.
pub(crate) fn positive(param: &'static str, value: f64) -> Result<f64, SimError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(SimError::invalid(param, value, "use a finite number > 0"))
    }
}

/// Checks that `value` is finite and not negative.
pub(crate) fn non_negative(param: &'static str, value: f64) -> Result<f64, SimError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(SimError::invalid(param, value, "use a finite number >= 0"))
    }
}
