//! The models' training lifecycle: training sets collected off the loop,
//! trained on a blocking thread, installed when they describe the knobs as
//! they are, and saved to knowledge.

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::{Engine, SAVE_EVERY, now_ms, on_cpu};
use crate::config::ModelConfig;
use crate::knowledge::{ModelBlob, seal};
use crate::plan::model::{self, Models, TrainError, TrainingSet};

/// What fits the loop's models: [`model::train`] in a service; a test puts in
/// one that fails or panics to see the loop carry on.
pub(crate) type Trainer =
    Arc<dyn Fn(&TrainingSet, &ModelConfig, u64) -> Result<Models, TrainError> + Send + Sync>;

/// The trainer a service runs: [`model::train`].
pub(crate) fn standard() -> Trainer {
    Arc::new(model::train)
}

impl Engine {
    /// Installs a finished training's models; with `wait`, waits for it.
    pub(super) async fn collect_training(&mut self, wait: bool) {
        let finished = self.training.as_ref().is_some_and(JoinHandle::is_finished);
        if !(finished || wait) {
            return;
        }
        let Some(handle) = self.training.take() else {
            return;
        };
        match handle.await {
            Ok((Ok(models), cpu)) => {
                self.cpu += cpu;
                self.trainings += 1;
                self.model_error = None;
                for m in &models.slis {
                    metrics::gauge!("finch_model_error", "sli" => m.key.clone())
                        .set(m.holdout_error);
                }
                metrics::gauge!("finch_model_samples").set(models.samples as f64);
                let models = Arc::new(models);
                if self.planner.set_models(Arc::clone(&models)) && self.trainings % SAVE_EVERY == 1
                {
                    self.save_model(&models).await;
                }
            }
            Ok((Err(e), cpu)) => {
                self.cpu += cpu;
                self.model_error = Some(e.to_string());
            }
            Err(e) => {
                tracing::error!(error = %crate::error::Chain(&e), "finch: training failed; keeping the previous model");
                self.model_error = Some(format!("training failed: {e}"));
            }
        }
    }

    pub(super) async fn save_model(&self, models: &Models) {
        match models.to_bytes() {
            Ok(bytes) => {
                let blob = ModelBlob {
                    instance: self.cfg.instance.clone(),
                    at_ms: now_ms(),
                    bytes: seal(&bytes),
                };
                let store = Arc::clone(self.journal.store());
                match tokio::time::timeout(self.store_timeout() * 5, store.save_model(blob)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %crate::error::Chain(&e), "finch: model not saved")
                    }
                    Err(_) => tracing::warn!("finch: model not saved (store timed out)"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %crate::error::Chain(&e), "finch: model not serializable")
            }
        }
    }

    /// Starts a training on a blocking thread when enough new clean windows came
    /// in; in manual mode waits for it, so runs are reproducible.
    pub(super) async fn maybe_train(&mut self) {
        let m = &self.cfg.model;
        let due = if self.planner.models().is_some() {
            self.new_clean >= m.retrain_every
        } else {
            self.new_clean > 0
        };
        if self.training.is_some() || !due {
            return;
        }
        let set = self.planner.training_set(self.history.iter(), &self.goals);
        if set.rows.len() < m.min_samples {
            return;
        }
        self.new_clean = 0;
        let cfg = m.clone();
        let seed = self.cfg.seed.wrapping_add(self.trainings);
        let train = Arc::clone(&self.trainer);
        self.training = Some(tokio::task::spawn_blocking(move || {
            on_cpu(|| train(&set, &cfg, seed))
        }));
        if self.cfg.manual {
            self.collect_training(true).await;
        }
    }
}
