//! Every SLO finch knows: the `#[slo]` statics and those built at run time.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Once, RwLock};

use super::Slo;
use super::window::SloReader;
use crate::error::SloError;

/// An `#[slo]` static, submitted to `inventory` by the generated code.
#[doc(hidden)]
pub struct StaticSlo(&'static Slo);

impl StaticSlo {
    #[doc(hidden)]
    pub const fn __new(slo: &'static Slo) -> Self {
        StaticSlo(slo)
    }
}

inventory::collect!(StaticSlo);

/// A registered SLO: what [`slos()`] returns and [`SloBuilder`](super::SloBuilder)
/// builds. Cheap to clone; dereferences to [`Slo`].
#[derive(Clone)]
pub struct SloRef(Inner);

#[derive(Clone)]
enum Inner {
    Static(&'static Slo),
    Dynamic(Arc<Slo>),
}

impl Deref for SloRef {
    type Target = Slo;

    fn deref(&self) -> &Slo {
        match &self.0 {
            Inner::Static(s) => s,
            Inner::Dynamic(s) => s,
        }
    }
}

impl SloRef {
    /// A reference to an `#[slo]` static.
    pub fn from_static(slo: &'static Slo) -> Self {
        SloRef(Inner::Static(slo))
    }

    /// A reader that drains this SLO one window at a time, starting now.
    pub fn reader(&self) -> SloReader {
        SloReader::new(self.clone())
    }

    fn addr(&self) -> *const Slo {
        &**self
    }
}

impl fmt::Debug for SloRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

struct Registry {
    slos: Vec<SloRef>,
    by_name: BTreeMap<String, usize>,
    problems: Vec<SloError>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    slos: Vec::new(),
    by_name: BTreeMap::new(),
    problems: Vec::new(),
});
static STATICS: Once = Once::new();

fn write() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read() -> std::sync::RwLockReadGuard<'static, Registry> {
    STATICS.call_once(|| {
        let mut reg = write();
        for s in inventory::iter::<StaticSlo> {
            if let Err(e) = reg.add(SloRef::from_static(s.0)) {
                reg.problems.push(e);
            }
        }
    });
    REGISTRY
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    fn add(&mut self, slo: SloRef) -> Result<(), SloError> {
        if self.slos.iter().any(|s| std::ptr::eq(s.addr(), slo.addr())) {
            return Ok(());
        }
        slo.spec.validate()?;
        if self.by_name.contains_key(slo.name()) {
            return Err(SloError::DuplicateName {
                slo: slo.name().to_string(),
            });
        }
        self.by_name.insert(slo.name().to_string(), self.slos.len());
        self.slos.push(slo);
        Ok(())
    }
}

pub(super) fn register_dynamic(slo: Arc<Slo>) -> Result<SloRef, SloError> {
    drop(read());
    let slo = SloRef(Inner::Dynamic(slo));
    write().add(slo.clone())?;
    Ok(slo)
}

/// Every registered SLO: `#[slo]` statics and run-time ones.
///
/// ```
/// # use std::time::Duration;
/// # use finch_core::{slos, SloBuilder};
/// SloBuilder::new("doc.slos.login").p99(Duration::from_millis(150)).register()?;
/// let login = slos().into_iter().find(|s| s.name() == "doc.slos.login").unwrap();
/// assert_eq!(login.objectives()[0].to_string(), "p99 < 150ms");
/// # Ok::<(), finch_core::SloError>(())
/// ```
pub fn slos() -> Vec<SloRef> {
    read().slos.clone()
}

/// The registered SLO with this name.
pub fn slo_by_name(name: &str) -> Option<SloRef> {
    let reg = read();
    reg.by_name.get(name).map(|&i| reg.slos[i].clone())
}

/// Declarations that could not be registered; `finch::start` refuses to run while
/// there are any.
pub(crate) fn problems() -> Vec<SloError> {
    read().problems.clone()
}
