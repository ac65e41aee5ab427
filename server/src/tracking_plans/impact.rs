//! What a plan would make of a set of messages: how many it checks, how many would carry violations, and
//! which violations, per event — to try a draft against recent traffic before publishing it.

use std::collections::HashMap;

use app::api::tracking_plans::{EventImpact, Violation, ViolationTally, EVENT_TYPES};
use serde_json::Value;

use super::validation::{type_index, CompiledPlan};

pub struct ImpactSummary {
    pub checked: u64,
    pub violating: u64,
    pub events: Vec<EventImpact>,
}

#[derive(Default)]
struct Tally {
    checked: u64,
    violating: u64,
    by_violation: HashMap<(String, Option<String>), u64>,
    example: Vec<Violation>,
}

pub fn impact(plan: &CompiledPlan, messages: &[Value]) -> ImpactSummary {
    let mut checked = 0;
    let mut violating = 0;
    let mut events: HashMap<(usize, &str), Tally> = HashMap::new();
    for message in messages {
        let Some(t) = message
            .get("type")
            .and_then(Value::as_str)
            .and_then(type_index)
        else {
            continue;
        };
        // As the plan looks events up: by name for track, by type alone otherwise. A track message
        // without a name is counted under the empty name.
        let name = if t == 0 {
            message.get("event").and_then(Value::as_str).unwrap_or("")
        } else {
            ""
        };
        let violations = plan.validate(message);
        checked += 1;
        let tally = events.entry((t, name)).or_default();
        tally.checked += 1;
        if violations.is_empty() {
            continue;
        }
        violating += 1;
        tally.violating += 1;
        for v in &violations {
            *tally
                .by_violation
                .entry((v.violation_type.clone(), v.property.clone()))
                .or_default() += 1;
        }
        if tally.example.is_empty() {
            tally.example = violations;
        }
    }
    let mut events: Vec<EventImpact> = events
        .into_iter()
        .map(|((t, name), tally)| {
            let mut violations: Vec<ViolationTally> = tally
                .by_violation
                .into_iter()
                .map(|((violation_type, property), count)| ViolationTally {
                    violation_type,
                    property,
                    count,
                })
                .collect();
            violations.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.violation_type.cmp(&b.violation_type))
                    .then_with(|| a.property.cmp(&b.property))
            });
            EventImpact {
                name: name.to_string(),
                event_type: EVENT_TYPES[t].to_string(),
                checked: tally.checked,
                violating: tally.violating,
                violations,
                example: tally.example,
            }
        })
        .collect();
    events.sort_by(|a, b| {
        b.violating
            .cmp(&a.violating)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| type_index(&a.event_type).cmp(&type_index(&b.event_type)))
    });
    ImpactSummary {
        checked,
        violating,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::tracking_plans::PlanEvent;
    use serde_json::json;

    fn plan() -> CompiledPlan {
        CompiledPlan::compile(&[PlanEvent {
            name: "Order Completed".into(),
            event_type: "track".into(),
            description: None,
            rules: json!({
                "properties": {"properties": {
                    "type": "object",
                    "properties": {"price": {"type": "integer"}, "currency": {"type": "string"}},
                    "required": ["price", "currency"],
                    "additionalProperties": false,
                }},
            }),
        }])
        .unwrap()
    }

    #[test]
    fn violations_are_counted_per_event_most_violating_first() {
        let mut messages: Vec<Value> = (0..30u64)
            .map(|i| {
                let mut properties = json!({"price": i, "currency": "EUR"});
                if i.is_multiple_of(3) {
                    properties["coupon"] = json!("SAVE");
                }
                json!({"type": "track", "event": "Order Completed", "properties": properties})
            })
            .collect();
        messages.push(json!({"type": "identify", "traits": {"email": "a@b.c"}}));
        messages.push(json!({"type": "alias", "previousId": "x"}));
        messages.push(json!({"type": "track", "event": "Signed Up"}));
        messages.push(json!({"type": "track", "event": "Signed Up"}));
        messages.push(
            json!({"type": "track", "event": "Order Completed", "properties": {"price": "1"}}),
        );

        let summary = impact(&plan(), &messages);
        assert_eq!(summary.checked, 34);
        assert_eq!(summary.violating, 13);
        let order = &summary.events[0];
        assert_eq!(
            (order.name.as_str(), order.checked, order.violating),
            ("Order Completed", 31, 11)
        );
        assert_eq!(
            order.violations[0],
            ViolationTally {
                violation_type: "Additional-Properties".into(),
                property: Some("coupon".into()),
                count: 10
            }
        );
        assert_eq!(order.violations.len(), 3);
        assert_eq!(order.example.len(), 1);
        assert_eq!(order.example[0].property.as_deref(), Some("coupon"));
        let signed_up = &summary.events[1];
        assert_eq!(
            (signed_up.name.as_str(), signed_up.violating),
            ("Signed Up", 2)
        );
        assert_eq!(signed_up.violations[0].violation_type, "Unplanned-Event");
        let identify = &summary.events[2];
        assert_eq!(
            (
                identify.event_type.as_str(),
                identify.checked,
                identify.violating
            ),
            ("identify", 1, 0)
        );
        assert!(identify.example.is_empty());
    }

    #[test]
    fn the_integration_case() {
        let mut messages: Vec<Value> = (0..30)
            .map(|i| {
                let mut properties = json!({"price": i, "currency": "EUR"});
                if i < 10 {
                    properties["coupon"] = json!("SAVE");
                }
                json!({"type": "track", "event": "Order Completed", "properties": properties})
            })
            .collect();
        messages.push(json!({"type": "identify", "traits": {}}));
        let summary = impact(&plan(), &messages);
        assert_eq!((summary.checked, summary.violating), (31, 10));
        assert_eq!(summary.events[0].name, "Order Completed");
        assert_eq!(summary.events[0].violations[0].count, 10);
    }
}
