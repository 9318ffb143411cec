//! Scenarios: the data to create first, then phases of open-loop load, each
//! with its rate, request mix, duration and interference. Read from TOML or
//! JSON; every quantity is bounded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::LoadError;

/// The kinds of user actions, as the original's simulated user journey had them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `POST /users`: sign up (an Argon2 hash).
    SignUp,
    /// `POST /houses` then `POST /schedules/{house}`: a new household and its week.
    House,
    /// `POST /recipes`: a recipe of 3–9 steps with 1–4 ingredients each.
    CreateRecipe,
    /// `GET /recipes?name=`: a search by part of a name.
    Search,
    /// `GET /recipes/{id}`: reading a recipe (popular ones more often).
    Read,
    /// `PUT /schedules/{house}`: planning a meal.
    Plan,
    /// `PUT /storages/{house}`: upserting 10–49 pantry items.
    Pantry,
    /// `GET /schedules/{house}/shopping-list`: the week's shopping list.
    ShoppingList,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 8] = [
        Kind::SignUp,
        Kind::House,
        Kind::CreateRecipe,
        Kind::Search,
        Kind::Read,
        Kind::Plan,
        Kind::Pantry,
        Kind::ShoppingList,
    ];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SignUp => "sign_up",
            Kind::House => "house",
            Kind::CreateRecipe => "create_recipe",
            Kind::Search => "search",
            Kind::Read => "read",
            Kind::Plan => "plan",
            Kind::Pantry => "pantry",
            Kind::ShoppingList => "shopping_list",
        }
    }
}

/// Data created before the phases start (not measured).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Users signed up (1..=1000).
    pub users: u32,
    /// Houses created, each with its schedule partly planned (1..=1000).
    pub houses: u32,
    /// Recipes created (1..=20000).
    pub recipes: u32,
}

/// One phase of load.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// A name for progress lines and reports.
    pub name: String,
    /// How long, in seconds (at most 3600).
    pub duration_s: f64,
    /// Mean arrivals per second (Poisson), at most 5000.
    pub rate: f64,
    /// With a value, the rate ramps linearly from `rate` at the phase's start
    /// to this at its end (at most 5000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_to: Option<f64>,
    /// Relative weights of the kinds of actions.
    pub mix: BTreeMap<Kind, f64>,
    /// Busy threads competing for the CPU during the phase (at most the core count).
    #[serde(default)]
    pub cpu_threads: u32,
    /// Latency added to every response from PostgreSQL, in milliseconds (at most
    /// 1000); needs the latency proxy between the app and the database.
    #[serde(default)]
    pub db_delay_ms: f64,
}

impl Phase {
    /// The phase's duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s)
    }

    /// The target rate `elapsed` into the phase: `rate`, or on a ramp the
    /// linear interpolation towards `ramp_to`.
    pub fn rate_at(&self, elapsed: Duration) -> f64 {
        match self.ramp_to {
            Some(end) if self.duration_s > 0.0 => {
                let share = (elapsed.as_secs_f64() / self.duration_s).clamp(0.0, 1.0);
                self.rate + (end - self.rate) * share
            }
            _ => self.rate,
        }
    }

    /// The highest target rate of the phase.
    pub fn peak_rate(&self) -> f64 {
        self.ramp_to.map_or(self.rate, |end| end.max(self.rate))
    }
}

/// A whole scenario.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A name for reports.
    pub name: String,
    /// Seed of every random choice.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Stop after this many actions, whatever the phases say (at most 10 000 000).
    #[serde(default = "default_max_requests")]
    pub max_requests: u64,
    /// Data created first.
    pub setup: Setup,
    /// The phases, in order.
    #[serde(rename = "phase")]
    pub phases: Vec<Phase>,
}

fn default_seed() -> u64 {
    7
}

fn default_max_requests() -> u64 {
    1_000_000
}

/// The longest scenario accepted.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

impl Scenario {
    /// The demo's scenario (about four minutes), from `scenarios/demo.toml`.
    pub fn demo() -> Result<Self, LoadError> {
        Self::from_toml(include_str!("../../scenarios/demo.toml"))
    }

    /// The adaptation benchmark's scenario (about two minutes: a ramp, a spike,
    /// a shift to writes, interference), from `scenarios/evaluate.toml`.
    pub fn evaluate() -> Result<Self, LoadError> {
        Self::from_toml(include_str!("../../scenarios/evaluate.toml"))
    }

    /// The short scenario for tests and CI (under a minute), from `scenarios/short.toml`.
    pub fn short() -> Result<Self, LoadError> {
        Self::from_toml(include_str!("../../scenarios/short.toml"))
    }

    /// Parses and validates TOML.
    pub fn from_toml(text: &str) -> Result<Self, LoadError> {
        let s: Scenario =
            toml::from_str(text).map_err(|e| LoadError::Scenario(format!("invalid TOML: {e}")))?;
        s.validate()?;
        Ok(s)
    }

    /// Parses and validates JSON.
    pub fn from_json(text: &str) -> Result<Self, LoadError> {
        let s: Scenario = serde_json::from_str(text)
            .map_err(|e| LoadError::Scenario(format!("invalid JSON: {e}")))?;
        s.validate()?;
        Ok(s)
    }

    /// Reads a `.toml` or `.json` file.
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::Scenario(format!("cannot read {}: {e}", path.display())))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::from_json(&text),
            Some("toml") => Self::from_toml(&text),
            _ => Err(LoadError::Scenario(format!(
                "{}: a scenario file ends in .toml or .json",
                path.display()
            ))),
        }
    }

    /// The sum of the phases' durations.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(Phase::duration).sum()
    }

    /// Checks every bound.
    pub fn validate(&self) -> Result<(), LoadError> {
        let fail = |m: String| Err(LoadError::Scenario(m));
        let s = &self.setup;
        if !(1..=1000).contains(&s.users)
            || !(1..=1000).contains(&s.houses)
            || !(1..=20_000).contains(&s.recipes)
        {
            return fail("setup: users and houses must be 1..=1000, recipes 1..=20000".to_string());
        }
        if self.max_requests == 0 || self.max_requests > 10_000_000 {
            return fail("max_requests must be 1..=10000000".to_string());
        }
        if self.phases.is_empty() {
            return fail("a scenario needs at least one [[phase]]".to_string());
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for p in &self.phases {
            let name = &p.name;
            if !(p.duration_s > 0.0 && p.duration_s <= MAX_DURATION.as_secs_f64()) {
                return fail(format!("phase {name}: duration_s must be in (0, 3600]"));
            }
            if !(p.rate > 0.0 && p.rate <= 5000.0) {
                return fail(format!("phase {name}: rate must be in (0, 5000]"));
            }
            if p.ramp_to.is_some_and(|r| !(r > 0.0 && r <= 5000.0)) {
                return fail(format!("phase {name}: ramp_to must be in (0, 5000]"));
            }
            if p.mix.values().any(|w| !(w.is_finite() && *w >= 0.0))
                || p.mix.values().sum::<f64>() <= 0.0
            {
                return fail(format!(
                    "phase {name}: mix weights must be at least 0 and not all 0"
                ));
            }
            if p.cpu_threads as usize > cores {
                return fail(format!(
                    "phase {name}: cpu_threads {} exceeds the {cores} cores",
                    p.cpu_threads
                ));
            }
            if !(0.0..=1000.0).contains(&p.db_delay_ms) {
                return fail(format!("phase {name}: db_delay_ms must be in [0, 1000]"));
            }
        }
        if self.duration() > MAX_DURATION {
            return fail("the phases last more than an hour in total".to_string());
        }
        Ok(())
    }
}
