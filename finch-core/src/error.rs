//! Error types. Every message names what is wrong and how to fix it.

use thiserror::Error;

/// Why a knob could not be declared, registered or set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KnobError {
    /// The value lies outside the knob's bounds.
    #[error("knob `{knob}`: {value} is outside its bounds {min}..={max}")]
    OutOfBounds {
        /// The knob.
        knob: String,
        /// The rejected value.
        value: String,
        /// Lower bound.
        min: String,
        /// Upper bound.
        max: String,
    },
    /// The value is not the minimum plus a whole number of steps.
    #[error("knob `{knob}`: {value} is not on its step grid (step {step})")]
    OffStep {
        /// The knob.
        knob: String,
        /// The rejected value.
        value: String,
        /// The declared step.
        step: String,
    },
    /// A floating-point knob was given NaN.
    #[error("knob `{knob}`: NaN is not a value")]
    NotANumber {
        /// The knob.
        knob: String,
    },
    /// The declaration itself is incoherent.
    #[error("knob `{knob}` is declared wrongly: {reason}")]
    InvalidSpec {
        /// The knob.
        knob: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Another knob already has this name.
    #[error("two knobs are named `{knob}`; give one of them another name with `name = \"..\"`")]
    DuplicateName {
        /// The name in conflict.
        knob: String,
    },
    /// No knob has this name.
    #[error("no knob is named `{knob}`; `finch::knobs()` lists the registered ones")]
    Unknown {
        /// The name looked up.
        knob: String,
    },
    /// A textual value could not be parsed for this knob.
    #[error("knob `{knob}`: cannot read {input:?} as {expected}")]
    Parse {
        /// The knob.
        knob: String,
        /// The text given.
        input: String,
        /// What was expected.
        expected: String,
    },
}

/// Why an SLO could not be declared or registered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SloError {
    /// The declaration is incoherent.
    #[error("SLO `{slo}` is declared wrongly: {reason}")]
    InvalidSpec {
        /// The SLO.
        slo: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Another SLO already has this name.
    #[error("two SLOs are named `{slo}`; give one of them another name with `name = \"..\"`")]
    DuplicateName {
        /// The name in conflict.
        slo: String,
    },
}

/// An applier could not carry a knob's new value to what it drives.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ApplyError {
    message: String,
}

impl ApplyError {
    /// An applier failure with a message saying what went wrong.
    ///
    /// ```
    /// let e = finch_core::ApplyError::new("pool resize refused: database unreachable");
    /// assert_eq!(e.to_string(), "pool resize refused: database unreachable");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        ApplyError {
            message: message.into(),
        }
    }
}

/// Why the loop could not start or an operation on it failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// `finch::start` was called outside a tokio runtime.
    #[error(
        "finch::start needs a tokio runtime: call it inside `#[tokio::main]` or `Runtime::block_on`"
    )]
    NoRuntime,
    /// A setting is incoherent.
    #[error("invalid finch configuration: {0}")]
    Config(String),
    /// A knob declaration is invalid.
    #[error(transparent)]
    Knob(#[from] KnobError),
    /// An SLO declaration is invalid.
    #[error(transparent)]
    Slo(#[from] SloError),
    /// The knowledge store failed.
    #[error("knowledge store: {0}")]
    Knowledge(#[from] StoreError),
    /// Another running loop already manages this knob.
    #[error(
        "knob `{knob}` is already managed by another running finch loop; \
         shut that one down or restrict each loop with `Config::knobs`"
    )]
    KnobTaken {
        /// The knob.
        knob: String,
    },
    /// The loop has shut down.
    #[error("the finch loop has shut down")]
    Stopped,
    /// An iteration panicked. The change being verified was rolled back (a
    /// cost cut) or kept unjudged, and the loop goes on with the next window,
    /// unless `Status::stopped` says why it could not.
    #[error("a finch iteration panicked: {message}")]
    IterationPanicked {
        /// What the panic said.
        message: String,
    },
    /// An operation panicked inside finch (a bug: please report it with the log).
    #[error("finch failed internally ({0}); this is a bug, please report it with the log")]
    Internal(String),
}

/// A knowledge store could not read or write.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// A store failure with a message saying what went wrong.
    ///
    /// ```
    /// let e = finch_core::StoreError::new("connection refused");
    /// assert_eq!(e.to_string(), "connection refused");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
        }
    }
}
