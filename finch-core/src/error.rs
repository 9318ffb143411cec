//! Error types. Every message names what is wrong and how to fix it.

use std::sync::Arc;

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
///
/// It says what failed; when a lower-level error caused it, that error is its
/// [`source`](std::error::Error::source), not repeated in the message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(transparent)]
pub struct ApplyError(Failure);

impl ApplyError {
    /// A failure with a message saying what went wrong.
    ///
    /// ```
    /// let e = finch_core::ApplyError::new("pool resize refused: database unreachable");
    /// assert_eq!(e.to_string(), "pool resize refused: database unreachable");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        ApplyError(Failure {
            message: message.into(),
            source: None,
        })
    }

    /// A failure saying what went wrong, caused by `source`.
    ///
    /// ```
    /// use std::error::Error as _;
    ///
    /// let io = std::io::Error::other("connection refused");
    /// let e = finch_core::ApplyError::with_source("resizing the pool", io);
    /// assert_eq!(e.to_string(), "resizing the pool");
    /// assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("connection refused"));
    /// ```
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ApplyError(Failure {
            message: message.into(),
            source: Some(Arc::new(source)),
        })
    }
}

/// What failed, and the error that caused it: the body of [`ApplyError`] and
/// [`StoreError`].
#[derive(Debug, Clone, Error)]
#[error("{message}")]
struct Failure {
    message: String,
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Equal when the messages and the causes' messages are.
impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        let cause = |e: &Self| e.source.as_ref().map(|s| s.to_string());
        self.message == other.message && cause(self) == cause(other)
    }
}

impl Eq for Failure {}

/// Which setting is wrong, and how to fix it.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
///
/// let config = finch_core::Config::default().manual().interval(Duration::from_millis(1));
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let Err(finch_core::Error::Config(e)) = runtime.block_on(async { finch_core::start(config) })
/// else {
///     panic!("a 1 ms interval is refused");
/// };
/// assert_eq!(e.setting(), "Config::interval");
/// assert!(e.problem().contains("at least 10ms"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{setting}`: {problem}")]
pub struct ConfigError {
    setting: String,
    problem: String,
}

impl ConfigError {
    /// Setting `setting` (a builder method such as `Config::interval`, or an
    /// environment variable) is wrong as `problem` says, with the fix.
    pub fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            setting: setting.into(),
            problem: problem.into(),
        }
    }

    /// The setting at fault.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// What is wrong with it and how to fix it.
    pub fn problem(&self) -> &str {
        &self.problem
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
    Config(ConfigError),
    /// A knob declaration is invalid.
    #[error(transparent)]
    Knob(#[from] KnobError),
    /// An SLO declaration is invalid.
    #[error(transparent)]
    Slo(#[from] SloError),
    /// The knowledge store failed.
    #[error("the knowledge store failed")]
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
///
/// It says what failed; when a lower-level error caused it, that error is its
/// [`source`](std::error::Error::source), not repeated in the message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(transparent)]
pub struct StoreError(Failure);

impl StoreError {
    /// A failure with a message saying what went wrong.
    ///
    /// ```
    /// let e = finch_core::StoreError::new("connection refused");
    /// assert_eq!(e.to_string(), "connection refused");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(Failure {
            message: message.into(),
            source: None,
        })
    }

    /// A failure saying what went wrong, caused by `source`.
    ///
    /// ```
    /// use std::error::Error as _;
    ///
    /// let io = std::io::Error::other("disk full");
    /// let e = finch_core::StoreError::with_source("writing the journal", io);
    /// assert_eq!(e.to_string(), "writing the journal");
    /// assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("disk full"));
    /// ```
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError(Failure {
            message: message.into(),
            source: Some(Arc::new(source)),
        })
    }
}

/// An error and its causes on one line, `what failed: why: root cause`, for
/// logs and status fields (finch's errors keep their causes as
/// [`source`](std::error::Error::source) instead of repeating them).
///
/// ```
/// use finch_core::error::Chain;
///
/// let cause = std::io::Error::other("disk full");
/// let e = finch_core::Error::from(finch_core::StoreError::with_source("writing the journal", cause));
/// assert_eq!(Chain(&e).to_string(), "the knowledge store failed: writing the journal: disk full");
/// ```
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

impl std::fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
