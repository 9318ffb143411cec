//! SLI models: one regression per SLI, SLI = f(workload, knobs), trained on clean
//! observations. Each training fits every model family on the oldest part of the
//! data, measures its error on the most recent part (a time-ordered holdout, so
//! the score says how well the past predicts the future), keeps the best family
//! and refits it on everything.

use serde::{Deserialize, Serialize};
use smartcore::ensemble::extra_trees_regressor::{
    ExtraTreesRegressor, ExtraTreesRegressorParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};

use crate::config::ModelConfig;

type Matrix = DenseMatrix<f64>;
type Forest = RandomForestRegressor<f64, f64, Matrix, Vec<f64>>;
type ExtraTrees = ExtraTreesRegressor<f64, f64, Matrix, Vec<f64>>;
type Ridge = RidgeRegression<f64, f64, Matrix, Vec<f64>>;

/// A model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Random forest (bagged trees, every feature considered at each split).
    RandomForest,
    /// Extremely randomized trees.
    ExtraTrees,
    /// Ridge regression on the features and their squares.
    Ridge,
}

const FAMILIES: [Family; 3] = [Family::RandomForest, Family::ExtraTrees, Family::Ridge];

#[derive(Serialize, Deserialize)]
enum Regressor {
    Forest(Forest),
    Extra(ExtraTrees),
    Ridge(Ridge),
}

/// What one SLI target looks like in the training set.
pub(crate) struct Target {
    pub(crate) key: String,
    /// Latency SLIs are modelled on a log scale.
    pub(crate) latency: bool,
    /// The objective's bound, the scale errors are measured on.
    pub(crate) bound: f64,
    /// One value per row; `None` where the window did not measure it.
    pub(crate) values: Vec<Option<f64>>,
}

/// Rows in time order: workload features then knob coordinates.
pub(crate) struct TrainingSet {
    pub(crate) workload: Vec<String>,
    pub(crate) knobs: Vec<KnobAxis>,
    pub(crate) rows: Vec<Vec<f64>>,
    pub(crate) targets: Vec<Target>,
}

/// A knob as the models saw it; a model is stale if the axes change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct KnobAxis {
    pub(crate) name: String,
    pub(crate) lo: u64,
    pub(crate) hi: u64,
}

/// A trained model of one SLI.
#[derive(Serialize, Deserialize)]
pub(crate) struct SliModel {
    pub(crate) key: String,
    latency: bool,
    bound: f64,
    pub(crate) family: Family,
    /// Mean absolute error on the holdout, relative to the bound.
    pub(crate) holdout_error: f64,
    pub(crate) samples: usize,
    regressor: Regressor,
}

/// Every SLI's model, trained together.
#[derive(Serialize, Deserialize)]
pub(crate) struct Models {
    pub(crate) workload: Vec<String>,
    pub(crate) knobs: Vec<KnobAxis>,
    pub(crate) slis: Vec<SliModel>,
    pub(crate) samples: usize,
    pub(crate) train_secs: f64,
    /// The request-rate features of every training row: where the models have
    /// seen the service, and so where their predictions can be relied on.
    seen: Vec<Vec<f64>>,
}

/// Two workloads whose request-rate features (log scale) all differ by less
/// than this (about ±30 %) are alike.
const ALIKE: f64 = 0.26;
/// Training rows alike to a workload needed before the models are relied on
/// there.
const FAMILIAR_ROWS: usize = 8;

/// Why training produced no model.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TrainError {
    #[error("not enough observations ({0})")]
    TooFew(usize),
    #[error("{0}")]
    Fit(String),
}

/// Workload rates enter the models on a log scale.
pub(crate) fn workload_feature(rate: f64) -> f64 {
    rate.max(0.0).ln_1p()
}

fn clip(v: f64, bound: f64) -> f64 {
    v.clamp(0.0, 2.0 * bound)
}

fn encode(latency: bool, v: f64) -> f64 {
    if latency { v.max(1e-7).ln() } else { v }
}

fn decode(latency: bool, v: f64) -> f64 {
    if latency { v.exp() } else { v }
}

fn ridge_features(rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|r| r.iter().copied().chain(r.iter().map(|x| x * x)).collect())
        .collect()
}

fn matrix(rows: &[Vec<f64>]) -> Result<Matrix, TrainError> {
    DenseMatrix::from_2d_vec(&rows.to_vec()).map_err(|e| TrainError::Fit(e.to_string()))
}

fn fit(
    family: Family,
    rows: &[Vec<f64>],
    y: &[f64],
    cfg: &ModelConfig,
    seed: u64,
) -> Result<Regressor, TrainError> {
    let p = rows.first().map_or(1, Vec::len).max(1);
    let leaf = if rows.len() > 200 { 3 } else { 1 };
    let err = |e: smartcore::error::Failed| TrainError::Fit(e.to_string());
    let y = y.to_vec();
    Ok(match family {
        Family::RandomForest => {
            let params = RandomForestRegressorParameters::default()
                .with_n_trees(cfg.trees)
                .with_m(p)
                .with_min_samples_leaf(leaf)
                .with_seed(seed);
            Regressor::Forest(Forest::fit(&matrix(rows)?, &y, params).map_err(err)?)
        }
        Family::ExtraTrees => {
            let params = ExtraTreesRegressorParameters::default()
                .with_n_trees(cfg.trees)
                .with_m(p)
                .with_min_samples_leaf(leaf)
                .with_seed(seed);
            Regressor::Extra(ExtraTrees::fit(&matrix(rows)?, &y, params).map_err(err)?)
        }
        Family::Ridge => {
            let params = RidgeRegressionParameters::default()
                .with_alpha(1e-2)
                .with_normalize(true);
            let x = matrix(&ridge_features(rows))?;
            Regressor::Ridge(Ridge::fit(&x, &y, params).map_err(err)?)
        }
    })
}

impl Regressor {
    fn predict(&self, rows: &[Vec<f64>]) -> Result<Vec<f64>, TrainError> {
        let err = |e: smartcore::error::Failed| TrainError::Fit(e.to_string());
        match self {
            Regressor::Forest(m) => m.predict(&matrix(rows)?).map_err(err),
            Regressor::Extra(m) => m.predict(&matrix(rows)?).map_err(err),
            Regressor::Ridge(m) => m.predict(&matrix(&ridge_features(rows))?).map_err(err),
        }
    }
}

/// Trains one model per target. Runs on a blocking thread.
pub(crate) fn train(set: &TrainingSet, cfg: &ModelConfig, seed: u64) -> Result<Models, TrainError> {
    let started = std::time::Instant::now();
    let mut slis = Vec::with_capacity(set.targets.len());
    let mut fewest = usize::MAX;
    for (t, target) in set.targets.iter().enumerate() {
        let (rows, y): (Vec<Vec<f64>>, Vec<f64>) = set
            .rows
            .iter()
            .zip(&target.values)
            .filter_map(|(r, v)| v.filter(|v| v.is_finite()).map(|v| (r.clone(), v)))
            .unzip();
        let n = rows.len();
        if n < cfg.min_samples {
            // Too rarely measured to learn yet; the other SLIs still train.
            fewest = fewest.min(n);
            continue;
        }
        let holdout = ((n as f64 * cfg.holdout).round() as usize).clamp(4, n / 2);
        let split = n - holdout;
        let encoded: Vec<f64> = y.iter().map(|&v| encode(target.latency, v)).collect();
        let seed = seed.wrapping_add(t as u64);
        let mut best: Option<(Family, f64)> = None;
        for family in FAMILIES {
            let Ok(model) = fit(family, &rows[..split], &encoded[..split], cfg, seed) else {
                continue;
            };
            let Ok(pred) = model.predict(&rows[split..]) else {
                continue;
            };
            let error = pred
                .iter()
                .zip(&y[split..])
                .map(|(p, a)| {
                    let p = decode(target.latency, *p);
                    (clip(p, target.bound) - clip(*a, target.bound)).abs()
                })
                .sum::<f64>()
                / holdout as f64
                / target.bound.max(f64::MIN_POSITIVE);
            if error.is_finite() && best.is_none_or(|(_, e)| error < e) {
                best = Some((family, error));
            }
        }
        let (family, holdout_error) =
            best.ok_or_else(|| TrainError::Fit(format!("no model family fits `{}`", target.key)))?;
        let regressor = fit(family, &rows, &encoded, cfg, seed)?;
        slis.push(SliModel {
            key: target.key.clone(),
            latency: target.latency,
            bound: target.bound,
            family,
            holdout_error,
            samples: n,
            regressor,
        });
    }
    if slis.is_empty() {
        return Err(TrainError::TooFew(if fewest == usize::MAX {
            0
        } else {
            fewest
        }));
    }
    let rates: Vec<usize> = rate_features(&set.workload);
    let seen = set
        .rows
        .iter()
        .map(|r| rates.iter().filter_map(|&i| r.get(i).copied()).collect())
        .collect();
    Ok(Models {
        workload: set.workload.clone(),
        knobs: set.knobs.clone(),
        slis,
        samples: set.rows.len(),
        train_secs: started.elapsed().as_secs_f64(),
        seen,
    })
}

/// What the planner needs from a model: its inputs and its predictions.
pub(crate) trait Predict {
    /// The workload features it reads, in row order (knob coordinates follow).
    fn workload(&self) -> &[String];
    /// Predicted SLIs (in their units) of each row, per SLI; `None` where the
    /// prediction failed. Values may be anything, NaN included: callers check.
    fn predict(&self, rows: &[Vec<f64>]) -> Vec<(String, Option<Vec<f64>>)>;
    /// Whether the model was trained on workloads like `workload` (features in
    /// the order of [`Predict::workload`]). Trees cannot extrapolate: away from
    /// what they have seen, their predictions are not evidence.
    fn familiar(&self, workload: &[f64]) -> bool;
}

/// Indexes of the request-rate features.
fn rate_features(workload: &[String]) -> Vec<usize> {
    workload
        .iter()
        .enumerate()
        .filter(|(_, k)| k.ends_with("/rate"))
        .map(|(i, _)| i)
        .collect()
}

impl Predict for Models {
    fn workload(&self) -> &[String] {
        &self.workload
    }

    fn predict(&self, rows: &[Vec<f64>]) -> Vec<(String, Option<Vec<f64>>)> {
        self.slis
            .iter()
            .map(|m| {
                let pred = m
                    .regressor
                    .predict(rows)
                    .ok()
                    .map(|v| v.into_iter().map(|p| decode(m.latency, p)).collect());
                (m.key.clone(), pred)
            })
            .collect()
    }

    fn familiar(&self, workload: &[f64]) -> bool {
        let probe: Vec<f64> = rate_features(&self.workload)
            .into_iter()
            .filter_map(|i| workload.get(i).copied())
            .collect();
        self.seen
            .iter()
            .filter(|row| {
                row.len() == probe.len()
                    && row.iter().zip(&probe).all(|(a, b)| (a - b).abs() < ALIKE)
            })
            .take(FAMILIAR_ROWS)
            .count()
            >= FAMILIAR_ROWS
    }
}

impl Models {
    /// Whether every SLI model's holdout error is within `trust_error`.
    pub(crate) fn trusted(&self, trust_error: f64) -> bool {
        !self.slis.is_empty() && self.slis.iter().all(|m| m.holdout_error <= trust_error)
    }

    /// The serialized form kept in knowledge.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// latency = 10 ms × load / workers, with noise.
    fn dataset(n: usize) -> TrainingSet {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut rows = Vec::new();
        let mut values = Vec::new();
        for _ in 0..n {
            let load: f64 = rng.random_range(10.0..100.0);
            let workers: f64 = rng.random_range(0.0..=1.0);
            let lat = 0.010 * load / (1.0 + 15.0 * workers) * rng.random_range(0.9..1.1);
            rows.push(vec![workload_feature(load), workers]);
            values.push(Some(lat));
        }
        TrainingSet {
            workload: vec!["s/rate".into()],
            knobs: vec![KnobAxis {
                name: "w".into(),
                lo: 1,
                hi: 16,
            }],
            rows,
            targets: vec![Target {
                key: "s/p99".into(),
                latency: true,
                bound: 0.1,
                values,
            }],
        }
    }

    #[test]
    fn learns_a_queueing_shape_and_round_trips_through_bytes() {
        let set = dataset(400);
        let cfg = ModelConfig::default();
        let models = train(&set, &cfg, 1).unwrap();
        assert!(
            models.trusted(cfg.trust_error),
            "{}",
            models.slis[0].holdout_error
        );
        let rows = vec![
            vec![workload_feature(80.0), 0.0],
            vec![workload_feature(80.0), 1.0],
        ];
        let pred = models.predict(&rows);
        let p = pred[0].1.as_ref().unwrap();
        assert!(p[0] > 3.0 * p[1], "more workers predicted faster: {p:?}");
        assert!(models.familiar(&[workload_feature(50.0)]));
        assert!(
            !models.familiar(&[workload_feature(1000.0)]),
            "never saw 10x the load"
        );
        let back = Models::from_bytes(&models.to_bytes().unwrap()).unwrap();
        assert_eq!(back.predict(&rows)[0].1, pred[0].1);
    }

    #[test]
    fn a_rarely_measured_sli_does_not_keep_the_others_from_training() {
        let mut set = dataset(200);
        let rare = (0..200).map(|i| (i % 50 == 0).then_some(0.01)).collect();
        set.targets.push(Target {
            key: "rare/p99".into(),
            latency: true,
            bound: 0.1,
            values: rare,
        });
        let models = train(&set, &ModelConfig::default(), 1).unwrap();
        let keys: Vec<&str> = models.slis.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["s/p99"]);
    }

    #[test]
    fn too_few_samples_is_an_error_not_a_panic() {
        let set = dataset(5);
        assert!(matches!(
            train(&set, &ModelConfig::default(), 1),
            Err(TrainError::TooFew(5))
        ));
    }
}
