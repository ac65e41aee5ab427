//! The steps of one validation run as they finish: each outcome is written to the run's row at once, so the
//! UI shows the steps arrive. The steps form a chain, as rudder-server's do: after a failure the rest are
//! `skipped`, naming the step that blocked them. Every reason passes through [`Checks::scrub`] first, so a
//! driver message that quotes a credential never reaches the row, the API or the log.

use std::future::Future;
use std::time::{Duration, Instant};

use app::api::warehouses::ValidationStep;

use crate::db::Db;

/// What one step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed(String),
    /// Works, with a caveat (and maybe a statement that removes it).
    Warning {
        reason: String,
        remediation: Option<String>,
    },
    Failed {
        reason: String,
        remediation: Option<String>,
    },
    /// Not applicable to this configuration (not blocked: see [`Checks::record`]).
    Skipped(String),
}

impl Outcome {
    pub fn failed(reason: impl Into<String>) -> Outcome {
        Outcome::Failed {
            reason: reason.into(),
            remediation: None,
        }
    }

    pub fn missing(reason: impl Into<String>, remediation: impl Into<String>) -> Outcome {
        Outcome::Failed {
            reason: reason.into(),
            remediation: Some(remediation.into()),
        }
    }
}

/// Runs `check`, or fails it when it takes longer than `limit` (a warehouse that accepts the connection
/// and never answers must not hold the run forever).
pub async fn within(limit: Duration, check: impl Future<Output = Outcome>) -> Outcome {
    match tokio::time::timeout(limit, check).await {
        Ok(outcome) => outcome,
        Err(_) => timed_out(limit),
    }
}

/// `within` for a query whose answer the next steps need.
pub async fn timed<T>(
    limit: Duration,
    query: impl Future<Output = Result<T, Outcome>>,
) -> Result<T, Outcome> {
    tokio::time::timeout(limit, query)
        .await
        .unwrap_or_else(|_| Err(timed_out(limit)))
}

fn timed_out(limit: Duration) -> Outcome {
    Outcome::failed(format!(
        "no answer within {} s; the warehouse may be starting, overloaded or unreachable through a firewall that drops packets",
        limit.as_secs_f64()
    ))
}

pub struct Checks {
    db: Db,
    validation_id: String,
    steps: Vec<ValidationStep>,
    next: usize,
    /// The values that must never appear in a reason.
    secrets: Vec<String>,
    pub step_timeout: Duration,
    started: Instant,
}

impl Checks {
    pub fn new(
        db: Db,
        validation_id: String,
        names: &[&str],
        secrets: Vec<String>,
        step_timeout: Duration,
    ) -> Checks {
        Checks {
            db,
            validation_id,
            steps: names.iter().map(|n| ValidationStep::pending(n)).collect(),
            next: 0,
            secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
            step_timeout,
            started: Instant::now(),
        }
    }

    /// Marks the start of the next step's clock (the time a step took is shown with it).
    pub fn start_step(&mut self) {
        self.started = Instant::now();
    }

    /// The first failed step, if any: the run stops there.
    pub fn failed(&self) -> Option<&str> {
        self.steps
            .iter()
            .find(|s| s.status == "failed")
            .map(|s| s.name.as_str())
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.steps.len()
    }

    pub fn steps(&self) -> &[ValidationStep] {
        &self.steps
    }

    /// Records the next step's outcome and writes the run's steps.
    pub async fn record(&mut self, outcome: Outcome) {
        let Some(step) = self.steps.get_mut(self.next) else {
            return;
        };
        let scrub = |text: String| scrub(&self.secrets, text);
        let (status, reason, remediation) = match outcome {
            Outcome::Passed(reason) => ("passed", reason, None),
            Outcome::Warning {
                reason,
                remediation,
            } => ("warning", reason, remediation),
            Outcome::Failed {
                reason,
                remediation,
            } => ("failed", reason, remediation),
            Outcome::Skipped(reason) => ("skipped", reason, None),
        };
        step.status = status.into();
        step.reason = Some(scrub(reason));
        step.remediation = remediation.map(scrub);
        step.duration_ms = Some(self.started.elapsed().as_millis() as u64);
        self.next += 1;
        self.started = Instant::now();
        if status == "failed" {
            let blocker = self.steps[self.next - 1].name.clone();
            for later in &mut self.steps[self.next..] {
                later.status = "skipped".into();
                later.reason = Some(format!("not run: {blocker} failed"));
                later.blocked_by = Some(blocker.clone());
            }
            self.next = self.steps.len();
        }
        self.save().await;
    }

    async fn save(&self) {
        let steps = serde_json::to_string(&self.steps).unwrap_or_else(|_| "[]".into());
        if let Err(error) = sqlx::query("UPDATE warehouse_validations SET steps = $1 WHERE id = $2")
            .bind(steps)
            .bind(&self.validation_id)
            .execute(&self.db.pool)
            .await
        {
            // The run goes on; its final outcome is written again at the end.
            tracing::warn!(%error, validation_id = %self.validation_id, "could not record a validation step");
        }
    }
}

/// Removes every secret value from a text (a driver may quote a connection string).
pub fn scrub(secrets: &[String], mut text: String) -> String {
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
    }
    text
}

/// `"name"` with inner quotes doubled: PostgreSQL's, Redshift's and Snowflake's quoted identifier.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_from_reasons() {
        let secrets = vec!["canary-Pw-123".to_string()];
        assert_eq!(
            scrub(
                &secrets,
                "password=canary-Pw-123 host=db: refused canary-Pw-123".into()
            ),
            "password=[redacted] host=db: refused [redacted]"
        );
    }

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quoted("analytics"), "\"analytics\"");
        assert_eq!(quoted("we\"ird"), "\"we\"\"ird\"");
    }
}
