//! Declaring PostgreSQL settings to tune, and reading them from `pg_settings`.
//!
//! Values are numbers in the setting's *base unit* (`pg_settings.unit`: kB for
//! `work_mem`, 8kB pages for `effective_cache_size`, seconds for
//! `checkpoint_timeout`). Text values may carry a unit (`"64MB"`, `"5min"`),
//! converted with PostgreSQL's own rules (1 kB = 1024 B, rounding to the
//! nearest base unit).

use std::ops::RangeInclusive;

use tokio_postgres::Row;

use crate::error::PgError;

/// A bound or value of a setting: text with an optional unit (`"64MB"`,
/// `"30s"`, `"on"`), a number in the setting's base unit, or a boolean.
///
/// ```
/// use finch_postgres::SettingValue;
/// let _: SettingValue = "64MB".into();
/// let _: SettingValue = 1.5.into();
/// let _: SettingValue = 4096.into();
/// let _: SettingValue = true.into();
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum SettingValue {
    /// Text as PostgreSQL would read it, e.g. `"64MB"`, `"5min"`, `"1.1"`, `"off"`.
    Text(String),
    /// A number in the setting's base unit.
    Number(f64),
    /// A boolean (for bool settings).
    Bool(bool),
}

impl From<&str> for SettingValue {
    fn from(s: &str) -> Self {
        SettingValue::Text(s.to_string())
    }
}

impl From<String> for SettingValue {
    fn from(s: String) -> Self {
        SettingValue::Text(s)
    }
}

impl From<f64> for SettingValue {
    fn from(x: f64) -> Self {
        SettingValue::Number(x)
    }
}

impl From<i64> for SettingValue {
    fn from(x: i64) -> Self {
        SettingValue::Number(x as f64)
    }
}

impl From<i32> for SettingValue {
    fn from(x: i32) -> Self {
        SettingValue::Number(f64::from(x))
    }
}

impl From<bool> for SettingValue {
    fn from(b: bool) -> Self {
        SettingValue::Bool(b)
    }
}

impl std::fmt::Display for SettingValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingValue::Text(s) => write!(f, "{s}"),
            SettingValue::Number(x) => write!(f, "{x}"),
            SettingValue::Bool(b) => write!(f, "{}", if *b { "on" } else { "off" }),
        }
    }
}

/// Where finch applies a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `set_config(name, value, false)` on every connection of the application's
    /// pool (settings of context `user` and `superuser`; the default for them).
    Pool,
    /// `ALTER SYSTEM SET` and `pg_reload_conf()`: every session of the server
    /// (settings of context `sighup`; optional for `user` settings).
    System,
}

/// One setting finch may tune, with its bounds and how it is searched.
///
/// ```
/// use finch_postgres::Setting;
///
/// let work_mem = Setting::new("work_mem", "1MB"..="256MB").cost(2.0);
/// let rpc = Setting::new("random_page_cost", 1.0..=4.0);
/// let stats = Setting::new("default_statistics_target", 10..=1000).system();
/// # let _ = (work_mem, rpc, stats);
/// ```
#[derive(Clone, Debug)]
pub struct Setting {
    pub(crate) name: String,
    pub(crate) min: SettingValue,
    pub(crate) max: SettingValue,
    pub(crate) cost: Option<f64>,
    pub(crate) log: Option<bool>,
    pub(crate) system: bool,
    pub(crate) knob: Option<String>,
}

impl Setting {
    /// The setting `name` (as in `pg_settings.name`), tuned within `range`.
    pub fn new<V: Into<SettingValue>>(name: impl Into<String>, range: RangeInclusive<V>) -> Self {
        let (min, max) = range.into_inner();
        Setting {
            name: name.into(),
            min: min.into(),
            max: max.into(),
            cost: None,
            log: None,
            system: false,
            knob: None,
        }
    }

    /// How expensive higher values are (default: 1 for memory sizes, 0 otherwise).
    pub fn cost(mut self, cost: f64) -> Self {
        self.cost = Some(cost);
        self
    }

    /// Search on a logarithmic scale (default: on for memory sizes).
    pub fn log(mut self, log: bool) -> Self {
        self.log = Some(log);
        self
    }

    /// Applies a `user`-context setting server-wide with `ALTER SYSTEM` instead
    /// of on the pool's sessions (`sighup` settings always are). Per-role and
    /// per-database settings then take precedence; finch reports them.
    pub fn system(mut self) -> Self {
        self.system = true;
        self
    }

    /// The knob's name (default: the tuner's prefix and the setting's name).
    pub fn knob_name(mut self, name: impl Into<String>) -> Self {
        self.knob = Some(name.into());
        self
    }
}

/// The type of a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `integer`.
    Integer,
    /// `real`.
    Real,
    /// `bool`.
    Bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dim {
    Memory,
    Time,
}

/// A setting's row of `pg_settings`.
#[derive(Clone, Debug)]
pub(crate) struct Info {
    pub(crate) name: String,
    pub(crate) vartype: String,
    pub(crate) unit: Option<String>,
    pub(crate) context: String,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) reset_val: String,
    pub(crate) setting: String,
    pub(crate) source: String,
    pub(crate) pending_restart: bool,
}

pub(crate) const INFO_SQL: &str = "SELECT name, vartype, unit, context, min_val, max_val, \
     reset_val, setting, source, pending_restart FROM pg_settings WHERE name = $1";

impl Info {
    pub(crate) fn from_row(row: &Row) -> Result<Info, tokio_postgres::Error> {
        let num = |s: Option<String>| s.and_then(|s| s.parse::<f64>().ok());
        Ok(Info {
            name: row.try_get(0)?,
            vartype: row.try_get(1)?,
            unit: row.try_get(2)?,
            context: row.try_get(3)?,
            min: num(row.try_get(4)?),
            max: num(row.try_get(5)?),
            reset_val: row.try_get(6)?,
            setting: row.try_get(7)?,
            source: row.try_get(8)?,
            pending_restart: row.try_get(9)?,
        })
    }

    pub(crate) fn kind(&self) -> Result<Kind, PgError> {
        match self.vartype.as_str() {
            "integer" => Ok(Kind::Integer),
            "real" => Ok(Kind::Real),
            "bool" => Ok(Kind::Bool),
            other => Err(PgError::UnsupportedType {
                name: self.name.clone(),
                vartype: other.to_string(),
            }),
        }
    }

    /// Whether the setting is a memory size (searched on a log scale by default).
    pub(crate) fn is_memory(&self) -> bool {
        self.unit
            .as_deref()
            .and_then(base_unit)
            .is_some_and(|(d, _)| d == Dim::Memory)
    }

    /// Reads `value` in the setting's base unit.
    pub(crate) fn parse(&self, value: &SettingValue) -> Result<f64, PgError> {
        let bad = |reason: &str| PgError::InvalidValue {
            name: self.name.clone(),
            input: value.to_string(),
            reason: reason.to_string(),
        };
        let kind = self.kind()?;
        let x = match (kind, value) {
            (Kind::Bool, SettingValue::Bool(b)) => f64::from(u8::from(*b)),
            (Kind::Bool, SettingValue::Text(s)) => match parse_bool(s) {
                Some(b) => f64::from(u8::from(b)),
                None => return Err(bad("expected on/off, true/false, yes/no or 1/0")),
            },
            (Kind::Bool, SettingValue::Number(_)) | (_, SettingValue::Bool(_)) => {
                return Err(bad("the type does not match the setting's type"));
            }
            (_, SettingValue::Number(x)) => *x,
            (_, SettingValue::Text(s)) => self.parse_text(s).map_err(|r| bad(&r))?,
        };
        if !x.is_finite() {
            return Err(bad("not a finite number"));
        }
        Ok(if kind == Kind::Integer { x.round() } else { x })
    }

    fn parse_text(&self, s: &str) -> Result<f64, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let num: f64 = num
            .parse()
            .map_err(|_| "expected a number, optionally followed by a unit".to_string())?;
        let unit = unit.trim();
        if unit.is_empty() {
            return Ok(num);
        }
        let Some((dim, factor)) = unit_factor(unit) else {
            return Err(format!(
                "unknown unit {unit:?}; use B, kB, MB, GB, TB, us, ms, s, min, h or d"
            ));
        };
        match self.unit.as_deref().and_then(base_unit) {
            Some((base_dim, base)) if base_dim == dim => Ok(num * factor / base),
            _ => Err(format!(
                "unit {unit:?} does not fit this setting (its unit is {})",
                self.unit.as_deref().unwrap_or("none")
            )),
        }
    }

    /// The value in the form `set_config` and `ALTER SYSTEM` accept.
    pub(crate) fn format(&self, x: f64) -> String {
        match self.kind() {
            Ok(Kind::Bool) => if x != 0.0 { "on" } else { "off" }.to_string(),
            Ok(Kind::Integer) => format!("{}", x.round() as i64),
            _ => format!("{x}"),
        }
    }

    /// Reads a value PostgreSQL reports (`setting`, `reset_val`) in base units.
    pub(crate) fn read_reported(&self, s: &str) -> Option<f64> {
        match self.kind() {
            Ok(Kind::Bool) => parse_bool(s).map(|b| f64::from(u8::from(b))),
            _ => s.trim().parse().ok(),
        }
    }

    /// The value with its unit, for messages.
    pub(crate) fn display(&self, x: f64) -> String {
        let v = self.format(x);
        match self.unit.as_deref() {
            Some(u) if u.starts_with(|c: char| c.is_ascii_digit()) => format!("{v} x {u}"),
            Some(u) => format!("{v}{u}"),
            None => v,
        }
    }
}

/// Whether two values in base units are the same setting value.
pub(crate) fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9_f64.max(1e-6 * a.abs().max(b.abs()))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Some(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// A unit's size in bytes or microseconds.
fn unit_factor(unit: &str) -> Option<(Dim, f64)> {
    const K: f64 = 1024.0;
    Some(match unit {
        "B" => (Dim::Memory, 1.0),
        "kB" => (Dim::Memory, K),
        "MB" => (Dim::Memory, K * K),
        "GB" => (Dim::Memory, K * K * K),
        "TB" => (Dim::Memory, K * K * K * K),
        "us" => (Dim::Time, 1.0),
        "ms" => (Dim::Time, 1e3),
        "s" => (Dim::Time, 1e6),
        "min" => (Dim::Time, 60e6),
        "h" => (Dim::Time, 3600e6),
        "d" => (Dim::Time, 86_400e6),
        _ => return None,
    })
}

/// A `pg_settings.unit` (`kB`, `8kB`, `ms`, `s`) as a size in bytes or microseconds.
fn base_unit(unit: &str) -> Option<(Dim, f64)> {
    let digits = unit.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    let (n, u) = unit.split_at(digits);
    let n: f64 = if n.is_empty() { 1.0 } else { n.parse().ok()? };
    unit_factor(u).map(|(d, f)| (d, n * f))
}

/// A validated value, ready to be written as an SQL string literal.
pub(crate) fn literal(value: &str) -> Option<String> {
    let plain = value == "on"
        || value == "off"
        || (!value.is_empty()
            && value
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')));
    plain.then(|| format!("'{}'", value.replace('\'', "''")))
}

/// A value read back from postgresql.auto.conf (`"7min"`, `"4MB"`, `"0.5"`,
/// `"on"`), quoted for `ALTER SYSTEM`: letters, digits, `.`, `-`, `+` and
/// spaces only.
pub(crate) fn file_literal(value: &str) -> Option<String> {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ' '));
    plain.then(|| format!("'{value}'"))
}

/// A setting name from `pg_settings`, quoted as an SQL identifier.
pub(crate) fn ident(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    plain.then(|| format!("\"{}\"", name.replace('"', "\"\"")))
}

/// Checks a name finch places in SQL (a schema): lowercase, digits, `_`.
pub(crate) fn plain_identifier(what: &'static str, name: &str) -> Result<String, PgError> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(format!("\"{name}\""))
    } else {
        Err(PgError::InvalidIdentifier {
            what,
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(vartype: &str, unit: Option<&str>) -> Info {
        Info {
            name: "x".into(),
            vartype: vartype.into(),
            unit: unit.map(String::from),
            context: "user".into(),
            min: None,
            max: None,
            reset_val: "0".into(),
            setting: "0".into(),
            source: "default".into(),
            pending_restart: false,
        }
    }

    #[test]
    fn units_convert_to_the_base_unit() {
        let kb = info("integer", Some("kB"));
        assert_eq!(kb.parse(&"64MB".into()).unwrap(), 65536.0);
        assert_eq!(kb.parse(&"1 GB".into()).unwrap(), 1_048_576.0);
        assert_eq!(kb.parse(&4096.into()).unwrap(), 4096.0);
        let pages = info("integer", Some("8kB"));
        assert_eq!(pages.parse(&"4GB".into()).unwrap(), 524_288.0);
        assert!(pages.is_memory());
        let secs = info("integer", Some("s"));
        assert_eq!(secs.parse(&"5min".into()).unwrap(), 300.0);
        assert!(secs.parse(&"5MB".into()).is_err());
        let real = info("real", None);
        assert_eq!(real.parse(&"1.1".into()).unwrap(), 1.1);
        assert_eq!(real.format(4.0), "4");
        let flag = info("bool", None);
        assert_eq!(flag.parse(&"off".into()).unwrap(), 0.0);
        assert_eq!(flag.format(1.0), "on");
    }

    #[test]
    fn hostile_values_are_refused_and_literals_quoted() {
        let kb = info("integer", Some("kB"));
        for bad in [
            "1MB'; DROP TABLE t; --",
            "1e999",
            "NaN",
            "",
            "64 XB",
            "1MB\\",
        ] {
            assert!(kb.parse(&bad.into()).is_err(), "{bad}");
        }
        assert!(kb.parse(&f64::INFINITY.into()).is_err());
        assert_eq!(literal("4096").as_deref(), Some("'4096'"));
        assert_eq!(literal("on").as_deref(), Some("'on'"));
        assert!(literal("1'; DROP").is_none());
        assert_eq!(file_literal("7min").as_deref(), Some("'7min'"));
        assert!(file_literal("7min'; DROP").is_none());
        assert!(file_literal("a\\b").is_none());
        assert_eq!(ident("work_mem").as_deref(), Some("\"work_mem\""));
        assert!(ident("work_mem\" = 1; --").is_none());
        assert!(plain_identifier("schema", "finch_test").is_ok());
        assert!(plain_identifier("schema", "Finch").is_err());
        assert!(plain_identifier("schema", "a\"; DROP").is_err());
    }
}
