//! Published versions, compiled once: a version never changes, so its compiled schemas never go stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::validation::CompiledPlan;

/// How many compiled versions are kept (a plan of 200 events compiles in milliseconds; a data plane
/// validates against a handful of versions at a time).
const KEPT: usize = 256;

#[derive(Default)]
pub struct Compiled(Mutex<HashMap<(String, i64), Arc<CompiledPlan>>>);

impl Compiled {
    pub fn get(&self, plan_id: &str, version: i64) -> Option<Arc<CompiledPlan>> {
        self.0
            .lock()
            .expect("compiled plans")
            .get(&(plan_id.to_string(), version))
            .cloned()
    }

    pub fn insert(&self, plan_id: &str, version: i64, plan: Arc<CompiledPlan>) {
        let mut all = self.0.lock().expect("compiled plans");
        if all.len() >= KEPT {
            // Rarely reached; starting over is simpler than tracking use, and costs one compile per version.
            all.clear();
        }
        all.insert((plan_id.to_string(), version), plan);
    }
}
