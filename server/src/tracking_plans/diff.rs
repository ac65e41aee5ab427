//! What changed between two versions of a plan (or a version and the draft): events added, removed or
//! changed, and for a changed event each rule that changed, by its JSON pointer in the schema.

use app::api::tracking_plans::{DiffChange, EventDiff, PlanEvent, RuleChange};
use serde_json::Value;

/// The events that differ from `from` to `to`, in `to`'s order, then the removed ones in `from`'s.
pub fn diff(from: &[PlanEvent], to: &[PlanEvent]) -> Vec<EventDiff> {
    let key = |e: &PlanEvent| (e.event_type.clone(), e.name.clone());
    let mut out = Vec::new();
    for after in to {
        match from.iter().find(|before| key(before) == key(after)) {
            None => out.push(EventDiff {
                name: after.name.clone(),
                event_type: after.event_type.clone(),
                change: DiffChange::Added,
                changes: Vec::new(),
            }),
            Some(before) => {
                let mut changes = Vec::new();
                if before.description != after.description {
                    changes.push(change_of(
                        "/description".into(),
                        before.description.clone().map(Value::String),
                        after.description.clone().map(Value::String),
                    ));
                }
                rule_changes("", Some(&before.rules), Some(&after.rules), &mut changes);
                if !changes.is_empty() {
                    out.push(EventDiff {
                        name: after.name.clone(),
                        event_type: after.event_type.clone(),
                        change: DiffChange::Changed,
                        changes,
                    });
                }
            }
        }
    }
    for before in from {
        if !to.iter().any(|after| key(after) == key(before)) {
            out.push(EventDiff {
                name: before.name.clone(),
                event_type: before.event_type.clone(),
                change: DiffChange::Removed,
                changes: Vec::new(),
            });
        }
    }
    out
}

fn change_of(path: String, before: Option<Value>, after: Option<Value>) -> RuleChange {
    let change = match (&before, &after) {
        (None, _) => DiffChange::Added,
        (_, None) => DiffChange::Removed,
        _ => DiffChange::Changed,
    };
    RuleChange {
        path,
        change,
        before,
        after,
    }
}

/// Objects are compared key by key, down to the leaves; anything else (arrays such as `required` or `enum`
/// included) as a whole, which is how people read them.
fn rule_changes(
    path: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Vec<RuleChange>,
) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                rule_changes(&format!("{path}/{escaped}"), b.get(key), a.get(key), out);
            }
        }
        (b, a) if b != a => out.push(change_of(
            if path.is_empty() {
                "/".into()
            } else {
                path.to_string()
            },
            b.cloned(),
            a.cloned(),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, name: &str, rules: Value) -> PlanEvent {
        PlanEvent {
            name: name.into(),
            event_type: event_type.into(),
            description: None,
            rules,
        }
    }

    #[test]
    fn added_removed_and_changed_events_with_the_rules_that_changed() {
        let from = vec![
            event(
                "track",
                "Order Completed",
                json!({"properties": {"properties": {"properties": {
                "price": {"type": "number"}, "coupon": {"type": "string"}}, "required": ["price"]}}}),
            ),
            event("track", "Signed Up", json!({})),
            event("identify", "", json!({"type": "object"})),
        ];
        let to = vec![
            event(
                "track",
                "Order Completed",
                json!({"properties": {"properties": {"properties": {
                "price": {"type": "integer"}, "currency": {"type": "string"}}, "required": ["price", "currency"]}}}),
            ),
            event("identify", "", json!({"type": "object"})),
            event("page", "", json!({})),
        ];
        let diff = diff(&from, &to);
        let summary: Vec<(&str, DiffChange)> = diff
            .iter()
            .map(|d| (d.event_type.as_str(), d.change))
            .collect();
        assert_eq!(
            summary,
            [
                ("track", DiffChange::Changed),
                ("page", DiffChange::Added),
                ("track", DiffChange::Removed)
            ]
        );
        let changes: Vec<(&str, DiffChange)> = diff[0]
            .changes
            .iter()
            .map(|c| (c.path.as_str(), c.change))
            .collect();
        assert_eq!(
            changes,
            [
                (
                    "/properties/properties/properties/coupon",
                    DiffChange::Removed
                ),
                (
                    "/properties/properties/properties/currency",
                    DiffChange::Added
                ),
                (
                    "/properties/properties/properties/price/type",
                    DiffChange::Changed
                ),
                ("/properties/properties/required", DiffChange::Changed),
            ]
        );
        assert_eq!(diff[0].changes[2].before, Some(json!("number")));
        assert_eq!(diff[0].changes[2].after, Some(json!("integer")));
    }

    #[test]
    fn identical_plans_have_no_diff() {
        let events = vec![event(
            "track",
            "A",
            json!({"type": "object", "a/b": {"x": 1}}),
        )];
        assert!(diff(&events, &events).is_empty());
    }
}
