//! Warm start: what this instance and its replicas stored before (decisions
//! and their verdicts, the trained models, the policy's observations) read
//! back before the first window, and shared observations pulled since.

use std::sync::Arc;

use super::{Engine, ask, decode_model, now_ms};
use crate::decision::Decision;
use crate::knowledge::Numbering;

impl Engine {
    /// Loads what the store knows, so a restarted service starts warm, and
    /// numbers on after everything this instance wrote.
    pub(super) async fn warm_start(&mut self) {
        self.warmed = true;
        let store = Arc::clone(self.journal.store());
        let own = self.cfg.instance.clone();
        let wait = self.store_timeout() * 5;
        let told = ask(
            wait,
            store.last_numbers(&own),
            "where numbering stands is unknown",
        )
        .await;
        let knowledge = ask(
            wait,
            store.load(self.cfg.model.max_samples),
            "knowledge could not be loaded; starting cold",
        )
        .await;
        let loaded = knowledge.as_ref().map(|k| Numbering {
            last_seq: k
                .observations
                .iter()
                .filter(|o| o.instance == own)
                .map(|o| o.seq)
                .max()
                .unwrap_or(0),
            last_decision: k
                .decisions
                .iter()
                .filter(|d| d.instance == own)
                .map(|d| d.id)
                .max()
                .unwrap_or(0),
        });
        let numbering = match (told, loaded) {
            (Some(Some(t)), l) => {
                let l = l.unwrap_or_default();
                Numbering {
                    last_seq: t.last_seq.max(l.last_seq),
                    last_decision: t.last_decision.max(l.last_decision),
                }
            }
            (Some(None), Some(l)) => l,
            // Unknown: starting from 0 would collide with what this instance
            // wrote before. The clock in milliseconds is past any number an
            // earlier run issued from it (a window lasts at least 10 ms).
            _ => {
                let now = now_ms();
                tracing::warn!(
                    from = now,
                    "finch: numbering continues from the clock, the store could not tell where it stands"
                );
                Numbering {
                    last_seq: now,
                    last_decision: now,
                }
            }
        };
        self.monitor.resume_after(numbering.last_seq);
        self.next_decision = self
            .next_decision
            .max(numbering.last_decision.saturating_add(1));
        let Some(knowledge) = knowledge else { return };
        self.history.extend(knowledge.observations);
        for o in &self.history {
            self.planner.learn(o, &self.goals);
        }
        if self.planner.policy_len() > 0 {
            tracing::info!(
                contexts = self.planner.policy_len(),
                "finch: warm start with a policy from stored observations"
            );
        }
        let mut decisions: Vec<Decision> = knowledge
            .decisions
            .into_iter()
            .filter(|d| d.instance == own)
            .collect();
        decisions.sort_by_key(|d| d.id);
        // What earlier runs learned of each knob it probed: the way it
        // helped, or that it did nothing.
        let mut recalled = 0;
        for d in decisions {
            if let Some(verdict) = d.verdict
                && self.planner.recall(&d, verdict)
            {
                recalled += 1;
            }
            self.remember(d);
        }
        if recalled > 0 {
            tracing::info!(
                verdicts = recalled,
                "finch: warm start with the verdicts of earlier probes"
            );
        }
        if let Some(blob) = knowledge.model {
            match decode_model(&blob.bytes) {
                Ok(m) => {
                    if self.planner.set_models(Arc::new(m)) {
                        tracing::info!(
                            samples = self.history.len(),
                            "finch: warm start from stored model"
                        );
                    } else {
                        tracing::info!("finch: stored model describes other knobs; retraining");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "finch: stored model unreadable; retraining"),
            }
        }
    }

    /// Observations other instances shared since the last look.
    pub(super) async fn pull_shared(&mut self) {
        let store = Arc::clone(self.journal.store());
        let fetched = tokio::time::timeout(
            self.store_timeout(),
            store.shared_since(&self.cfg.instance, self.shared_cursor),
        )
        .await;
        if let Ok(Ok((observations, cursor))) = fetched {
            self.shared_cursor = cursor;
            for o in observations {
                if o.clean {
                    self.new_clean += 1;
                }
                self.push_history(o);
            }
        }
    }
}
