//! A plan learnt from captured messages: one event per (type, name), its rules describing what was seen.
//!
//! The rules are JSON Schema over the whole message, as the transformer validates it: what a track, page or
//! screen call carries goes under `properties.properties`, what an identify or group call carries under
//! `properties.traits`. Nothing is forbidden (no `additionalProperties: false`): a learnt plan should start
//! out describing the traffic, not rejecting the part of it the sample happened to miss.

use std::collections::BTreeMap;

use app::api::tracking_plans::PlanEvent;
use serde_json::{json, Map, Value};

use super::validation::type_index;

/// Bounds on the work per event: captured payloads are arbitrary, and a plan is meant to be read.
const MAX_PROPERTIES: usize = 100;
const MAX_DEPTH: usize = 5;

const STRING: u8 = 1;
const INTEGER: u8 = 2;
const NUMBER: u8 = 4;
const BOOLEAN: u8 = 8;
const NULL: u8 = 16;
const OBJECT: u8 = 32;
const ARRAY: u8 = 64;

/// What was seen at one place of the messages.
#[derive(Default)]
struct Shape {
    types: u8,
    /// Of the values that were objects: how many, and what each key held.
    objects: u64,
    properties: BTreeMap<String, (u64, Shape)>,
    /// Of the values that were arrays: their elements, together.
    items: Option<Box<Shape>>,
}

impl Shape {
    fn add(&mut self, value: &Value, depth: usize) {
        self.types |= match value {
            Value::String(_) => STRING,
            Value::Number(n) if n.is_i64() || n.is_u64() => INTEGER,
            // Whole numbers written as floats (`3.0`) are integers to JSON Schema and to Ajv.
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => INTEGER,
            Value::Number(_) => NUMBER,
            Value::Bool(_) => BOOLEAN,
            Value::Null => NULL,
            Value::Object(_) => OBJECT,
            Value::Array(_) => ARRAY,
        };
        if depth >= MAX_DEPTH {
            return;
        }
        match value {
            Value::Object(map) => self.add_object(map, depth),
            Value::Array(items) => {
                let shape = self.items.get_or_insert_with(Default::default);
                for item in items {
                    shape.add(item, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn add_object(&mut self, map: &Map<String, Value>, depth: usize) {
        self.objects += 1;
        for (key, value) in map {
            if !self.properties.contains_key(key) && self.properties.len() >= MAX_PROPERTIES {
                continue;
            }
            let (seen, shape) = self.properties.entry(key.clone()).or_default();
            *seen += 1;
            shape.add(value, depth + 1);
        }
    }

    fn schema(&self) -> Value {
        let mut names: Vec<&str> = [
            (ARRAY, "array"),
            (BOOLEAN, "boolean"),
            (INTEGER, "integer"),
            (NULL, "null"),
            (NUMBER, "number"),
            (OBJECT, "object"),
            (STRING, "string"),
        ]
        .iter()
        .filter(|(bit, _)| self.types & bit != 0)
        .map(|(_, name)| *name)
        .collect();
        if self.types & NUMBER != 0 {
            // Every integer is a number: `["integer", "number"]` says no more than `number`.
            names.retain(|n| *n != "integer");
        }
        let mut schema = Map::new();
        match names.as_slice() {
            [] => {}
            [one] => {
                schema.insert("type".into(), json!(one));
            }
            many => {
                schema.insert("type".into(), json!(many));
            }
        }
        if self.types & OBJECT != 0 && self.objects > 0 {
            self.object_rules(&mut schema);
        }
        if let Some(items) = &self.items {
            if items.types != 0 {
                schema.insert("items".into(), items.schema());
            }
        }
        Value::Object(schema)
    }

    fn object_rules(&self, schema: &mut Map<String, Value>) {
        let properties: Map<String, Value> = self
            .properties
            .iter()
            .map(|(name, (_, shape))| (name.clone(), shape.schema()))
            .collect();
        // Present in every object seen here (the BTreeMap keeps them sorted).
        let required: Vec<&String> = self
            .properties
            .iter()
            .filter(|(_, (seen, _))| *seen == self.objects)
            .map(|(name, _)| name)
            .collect();
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), json!(required));
        }
    }
}

/// What one event's messages held, where its rules will check it.
#[derive(Default)]
struct Learnt {
    /// `properties` (track, page, screen) or `traits` (identify, group).
    payload: Shape,
    /// Identify traits the SDK put in `context.traits`.
    context_traits: Shape,
}

/// The plan's events, sorted by type (in `EVENT_TYPES`' order) then name.
pub fn infer_events(messages: &[Value]) -> Vec<PlanEvent> {
    let mut events: BTreeMap<(usize, String), Learnt> = BTreeMap::new();
    for message in messages {
        let Some(t) = message
            .get("type")
            .and_then(Value::as_str)
            .and_then(type_index)
        else {
            continue;
        };
        let name = if t == 0 {
            match message.get("event").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => name,
                // Unnamed, it could only ever be an Unplanned-Event.
                _ => continue,
            }
        } else {
            ""
        };
        let learnt = events.entry((t, name.to_string())).or_default();
        let key = if t == 1 || t == 4 {
            "traits"
        } else {
            "properties"
        };
        match message.get(key) {
            Some(Value::Object(map)) => learnt.payload.add_object(map, 1),
            // The JS SDK v3 sends identify traits in `context.traits` only. The data plane validates the
            // message as it is, so rules under `properties.traits` would never see them: they are described
            // where they are, under `properties.context.properties.traits`.
            _ if t == 1 => {
                if let Some(Value::Object(map)) =
                    message.get("context").and_then(|c| c.get("traits"))
                {
                    learnt.context_traits.add_object(map, 2);
                }
            }
            _ => {}
        }
    }
    events
        .into_iter()
        .map(|((t, name), learnt)| {
            let event_type = app::api::tracking_plans::EVENT_TYPES[t];
            let key = if t == 1 || t == 4 {
                "traits"
            } else {
                "properties"
            };
            let mut properties = Map::new();
            if learnt.payload.objects > 0 {
                let mut schema = Map::new();
                schema.insert("type".into(), json!("object"));
                learnt.payload.object_rules(&mut schema);
                properties.insert(key.into(), Value::Object(schema));
            }
            if learnt.context_traits.objects > 0 {
                let mut traits = Map::new();
                traits.insert("type".into(), json!("object"));
                learnt.context_traits.object_rules(&mut traits);
                properties.insert(
                    "context".into(),
                    json!({"type": "object", "properties": {"traits": traits}}),
                );
            }
            let mut rules = Map::new();
            rules.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2019-09/schema"),
            );
            rules.insert("type".into(), json!("object"));
            rules.insert("properties".into(), Value::Object(properties));
            PlanEvent {
                name,
                event_type: event_type.to_string(),
                description: None,
                rules: Value::Object(rules),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking_plans::validation::CompiledPlan;

    fn order(i: usize) -> Value {
        let mut properties = json!({"price": 10 + i, "currency": "EUR"});
        if i.is_multiple_of(3) {
            properties["coupon"] = json!("SAVE");
        }
        json!({"type": "track", "event": "Order Completed", "properties": properties})
    }

    #[test]
    fn types_and_required_are_learnt_per_event() {
        let messages: Vec<Value> = (0..30).map(order).collect();
        let events = infer_events(&messages);
        assert_eq!(events.len(), 1);
        let props = &events[0].rules["properties"]["properties"];
        assert_eq!(props["properties"]["price"], json!({"type": "integer"}));
        assert_eq!(props["properties"]["currency"], json!({"type": "string"}));
        assert_eq!(props["properties"]["coupon"], json!({"type": "string"}));
        assert_eq!(props["required"], json!(["currency", "price"]));
        assert_eq!(
            events[0].rules["$schema"],
            "https://json-schema.org/draft/2019-09/schema"
        );
        // What was learnt accepts what it was learnt from.
        let plan = CompiledPlan::compile(&events).unwrap();
        for m in &messages {
            assert!(plan.validate(m).is_empty(), "{m}");
        }
    }

    #[test]
    fn mixed_nested_and_array_values() {
        let messages = vec![
            json!({"type": "page", "properties": {"n": 1, "v": "a", "o": {"a": 1, "b": [1, 2.5]}, "l": [{"x": 1}, {"x": "y", "z": null}]}}),
            json!({"type": "page", "properties": {"n": 1.5, "v": true, "o": {"a": 2}, "l": []}}),
            json!({"type": "page", "properties": {"n": 2, "v": null}}),
        ];
        let events = infer_events(&messages);
        let p = &events[0].rules["properties"]["properties"]["properties"];
        assert_eq!(p["n"], json!({"type": "number"}));
        assert_eq!(p["v"], json!({"type": ["boolean", "null", "string"]}));
        assert_eq!(
            p["o"],
            json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "number"}}}, "required": ["a"]})
        );
        assert_eq!(
            p["l"],
            json!({"type": "array", "items": {"type": "object", "properties": {"x": {"type": ["integer", "string"]}, "z": {"type": "null"}}, "required": ["x"]}})
        );
        assert_eq!(
            events[0].rules["properties"]["properties"]["required"],
            json!(["n", "v"])
        );
        let plan = CompiledPlan::compile(&events).unwrap();
        for m in &messages {
            assert!(plan.validate(m).is_empty(), "{m}");
        }
    }

    #[test]
    fn events_are_grouped_sorted_and_traits_found_where_they_are() {
        let messages = vec![
            json!({"type": "track", "event": "B", "properties": {}}),
            json!({"type": "track", "event": "A"}),
            json!({"type": "track", "event": ""}),
            json!({"type": "track"}),
            json!({"type": "alias", "userId": "x"}),
            json!({"type": "group", "traits": {"plan": "pro"}}),
            json!({"type": "identify", "traits": {"email": "a@b.c"}}),
            json!({"type": "identify", "context": {"traits": {"name": "Ann"}}}),
            json!({"type": "screen", "name": "Home", "properties": {"x": 1}}),
        ];
        let events = infer_events(&messages);
        let keys: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.event_type.as_str(), e.name.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("track", "A"),
                ("track", "B"),
                ("identify", ""),
                ("screen", ""),
                ("group", "")
            ]
        );
        assert_eq!(
            events[2].rules["properties"]["traits"]["required"],
            json!(["email"])
        );
        assert_eq!(
            events[2].rules["properties"]["context"]["properties"]["traits"]["required"],
            json!(["name"])
        );
        assert_eq!(
            events[4].rules["properties"]["traits"]["properties"]["plan"],
            json!({"type": "string"})
        );
        CompiledPlan::compile(&events).unwrap();
    }

    #[test]
    fn work_is_bounded() {
        let wide: Map<String, Value> = (0..150).map(|i| (format!("p{i:03}"), json!(i))).collect();
        let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}});
        let events = infer_events(&[
            json!({"type": "track", "event": "W", "properties": wide}),
            json!({"type": "track", "event": "D", "properties": deep}),
        ]);
        let wide = &events[1].rules["properties"]["properties"];
        assert_eq!(
            wide["properties"].as_object().unwrap().len(),
            MAX_PROPERTIES
        );
        let mut at = &events[0].rules["properties"]["properties"]["properties"]["a"];
        let mut levels = 1;
        while let Some(next) = at
            .get("properties")
            .and_then(|p| p.as_object())
            .and_then(|p| p.values().next())
        {
            at = next;
            levels += 1;
        }
        assert_eq!(at, &json!({"type": "object"}));
        assert!(levels <= MAX_DEPTH);
    }
}
