//! The event editor's form model of an event's `rules`, a JSON Schema over the whole message (properties
//! under `properties.properties` for `track`, `page` and `screen`, traits under `properties.traits` for
//! `identify` and `group`; `../shared/reference/rudderstack-protocol.md` §3.3).
//!
//! The schema stays the source of truth: [`Node::read`] takes what the form knows out of a schema (types,
//! description, `enum`, `pattern`, the length, range and item bounds, nested `properties` with `required`
//! and `additionalProperties`, array `items`), and [`Node::write`] puts it back into the schema it was read
//! from, changing only the keywords whose value the form changed. Everything else (keywords the form does not
//! know, values of a shape it does not understand, and the style of what it did not change) is written back
//! untouched, so reading and writing without an edit gives the same schema.
//!
//! Plain Rust (no Leptos): the editor keeps one [`EventForm`] per event in a signal and edits it through the
//! paths of [`Step`]s that name its nodes.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Map, Number, Value};

use crate::api::tracking_plans::PlanEvent;

/// The `$schema` of the events the editor creates (rudder-transformer compiles anything but draft-04 with
/// Ajv2019, which reads draft-07 too).
pub const SCHEMA_DRAFT: &str = "http://json-schema.org/draft-07/schema#";

/// The JSON Schema types a property may have.
pub const TYPES: [&str; 7] = [
    "string", "number", "integer", "boolean", "object", "array", "null",
];

/// The keywords of a property's schema that the form edits; any other keyword is kept as written.
pub const KNOWN_KEYWORDS: [&str; 14] = [
    "type",
    "description",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "properties",
    "required",
    "additionalProperties",
    "items",
];

/// A new id for a property: the editor's rows are keyed by it (never part of the schema).
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Where an event type's fields are in the message: `traits` for `identify` and `group`, `properties`
/// otherwise.
pub fn container_of(event_type: &str) -> &'static str {
    match event_type {
        "identify" | "group" => "traits",
        _ => "properties",
    }
}

/// One schema (the event's fields, a property's, an array's items), as the form shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// `type`: none means any type.
    pub types: Vec<String>,
    pub description: Option<String>,
    pub enum_values: Option<Vec<Value>>,
    pub pattern: Option<String>,
    pub min_length: Option<Number>,
    pub max_length: Option<Number>,
    pub minimum: Option<Number>,
    pub maximum: Option<Number>,
    pub min_items: Option<Number>,
    pub max_items: Option<Number>,
    /// `properties`, in order, with whether `required` names each.
    pub properties: Vec<Property>,
    /// Names in `required` that no property of `properties` has (kept).
    pub extra_required: Vec<String>,
    /// `additionalProperties` as a boolean: `None` when absent (unplanned properties are allowed).
    pub additional: Option<bool>,
    /// `items`, when it is one schema for every item.
    pub items: Option<Box<Node>>,
    /// The schema this was read from: what the form does not edit is written back from it.
    pub original: Value,
}

/// A property of an object schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Property {
    /// Stable while the form lives (the editor's rows are keyed by it); not part of the schema.
    pub id: u64,
    pub name: String,
    pub required: bool,
    pub schema: Node,
}

/// A step of a path from an event's fields to one of its nodes: a property (by id), or an array's items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Prop(u64),
    Items,
}

/// The keywords of one schema the form edits, as read (without nested schemas). A keyword that is absent or
/// not of a shape the form understands reads as its empty value; the schema keeps it either way.
#[derive(Clone, Debug, Default, PartialEq)]
struct Keywords {
    types: Vec<String>,
    description: Option<String>,
    enum_values: Option<Vec<Value>>,
    pattern: Option<String>,
    min_length: Option<Number>,
    max_length: Option<Number>,
    minimum: Option<Number>,
    maximum: Option<Number>,
    min_items: Option<Number>,
    max_items: Option<Number>,
    required: Vec<String>,
    additional: Option<bool>,
}

fn read_types(value: Option<&Value>) -> Option<Vec<String>> {
    let known = |t: &str| TYPES.contains(&t);
    match value? {
        Value::String(t) if known(t) => Some(vec![t.clone()]),
        Value::Array(list) if !list.is_empty() => {
            let mut types = Vec::new();
            for t in list {
                let t = t.as_str().filter(|t| known(t))?;
                if types.iter().any(|seen: &String| seen == t) {
                    return None;
                }
                types.push(t.to_owned());
            }
            Some(types)
        }
        _ => None,
    }
}

fn read_count(value: Option<&Value>) -> Option<Number> {
    match value? {
        Value::Number(n) if n.as_u64().is_some() => Some(n.clone()),
        _ => None,
    }
}

fn read_number(value: Option<&Value>) -> Option<Number> {
    match value? {
        Value::Number(n) => Some(n.clone()),
        _ => None,
    }
}

fn read_string(value: Option<&Value>) -> Option<String> {
    value?.as_str().map(str::to_owned)
}

fn read_required(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

impl Keywords {
    fn read(schema: &Value) -> Keywords {
        let get = |key: &str| schema.get(key);
        Keywords {
            types: read_types(get("type")).unwrap_or_default(),
            description: read_string(get("description")),
            enum_values: get("enum").and_then(Value::as_array).cloned(),
            pattern: read_string(get("pattern")),
            min_length: read_count(get("minLength")),
            max_length: read_count(get("maxLength")),
            minimum: read_number(get("minimum")),
            maximum: read_number(get("maximum")),
            min_items: read_count(get("minItems")),
            max_items: read_count(get("maxItems")),
            required: read_required(get("required")).unwrap_or_default(),
            additional: get("additionalProperties").and_then(Value::as_bool),
        }
    }

    /// Whether `key`'s value in `schema` is one the form understands (absent counts as understood).
    fn understood(schema: &Value, key: &str) -> bool {
        let Some(value) = schema.get(key) else {
            return true;
        };
        let v = Some(value);
        match key {
            "type" => read_types(v).is_some(),
            "description" | "pattern" => value.is_string(),
            "enum" => value.is_array(),
            "minLength" | "maxLength" | "minItems" | "maxItems" => read_count(v).is_some(),
            "minimum" | "maximum" => value.is_number(),
            "required" => read_required(v).is_some(),
            "additionalProperties" => value.is_boolean(),
            "properties" | "items" => value.is_object(),
            _ => false,
        }
    }
}

impl Node {
    /// An empty schema (any value), as a property added in the form starts.
    pub fn new() -> Node {
        Node::read(&Value::Object(Map::new()))
    }

    /// A schema of one type.
    pub fn of_type(t: &str) -> Node {
        let mut node = Node::new();
        node.types = vec![t.to_owned()];
        node
    }

    /// What the form knows of `schema`.
    pub fn read(schema: &Value) -> Node {
        Node::read_like(schema, None)
    }

    /// What the form knows of `schema`, read again after it was edited as JSON: a property that has the
    /// name it had in `previous` keeps its id (and so its row, opened or not, in the editor).
    pub fn read_like(schema: &Value, previous: Option<&Node>) -> Node {
        let k = Keywords::read(schema);
        let mut properties = Vec::new();
        let mut extra_required = k.required.clone();
        if let Some(map) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in map {
                let before = previous.and_then(|p| p.properties.iter().find(|p| &p.name == name));
                properties.push(Property {
                    id: before.map_or_else(next_id, |b| b.id),
                    name: name.clone(),
                    required: k.required.contains(name),
                    schema: Node::read_like(property, before.map(|b| &b.schema)),
                });
            }
            extra_required.retain(|name| !map.contains_key(name));
        }
        let items = schema
            .get("items")
            .filter(|items| items.is_object())
            .map(|items| {
                Box::new(Node::read_like(
                    items,
                    previous.and_then(|p| p.items.as_deref()),
                ))
            });
        Node {
            types: k.types,
            description: k.description,
            enum_values: k.enum_values,
            pattern: k.pattern,
            min_length: k.min_length,
            max_length: k.max_length,
            minimum: k.minimum,
            maximum: k.maximum,
            min_items: k.min_items,
            max_items: k.max_items,
            properties,
            extra_required,
            additional: k.additional,
            items,
            original: schema.clone(),
        }
    }

    /// The names `required` lists: the required properties, then the names without a property.
    fn required_names(&self) -> Vec<String> {
        self.properties
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name.clone())
            .chain(self.extra_required.iter().cloned())
            .collect()
    }

    /// The schema: the one it was read from, with the keywords the form changed written over it.
    pub fn write(&self) -> Value {
        let was = Keywords::read(&self.original);
        let mut map = self.original.as_object().cloned().unwrap_or_default();
        let mut put = |key: &str, changed: bool, value: Option<Value>| {
            if changed {
                match value {
                    Some(value) => map.insert(key.to_owned(), value),
                    None => map.remove(key),
                };
            }
        };
        let number = |n: &Option<Number>| n.clone().map(Value::Number);
        put(
            "type",
            self.types != was.types,
            match self.types.as_slice() {
                [] => None,
                [one] => Some(Value::String(one.clone())),
                many => Some(json!(many)),
            },
        );
        put(
            "description",
            self.description != was.description,
            self.description.clone().map(Value::String),
        );
        put(
            "enum",
            self.enum_values != was.enum_values,
            self.enum_values.clone().map(Value::Array),
        );
        put(
            "pattern",
            self.pattern != was.pattern,
            self.pattern.clone().map(Value::String),
        );
        put(
            "minLength",
            self.min_length != was.min_length,
            number(&self.min_length),
        );
        put(
            "maxLength",
            self.max_length != was.max_length,
            number(&self.max_length),
        );
        put(
            "minimum",
            self.minimum != was.minimum,
            number(&self.minimum),
        );
        put(
            "maximum",
            self.maximum != was.maximum,
            number(&self.maximum),
        );
        put(
            "minItems",
            self.min_items != was.min_items,
            number(&self.min_items),
        );
        put(
            "maxItems",
            self.max_items != was.max_items,
            number(&self.max_items),
        );
        put(
            "additionalProperties",
            self.additional != was.additional,
            self.additional.map(Value::Bool),
        );
        // `required` is a set: a change of order alone is no change.
        let required = self.required_names();
        let (mut now, mut before) = (required.clone(), was.required.clone());
        now.sort();
        before.sort();
        put(
            "required",
            now != before,
            (!required.is_empty()).then(|| json!(required)),
        );
        let had_properties = self
            .original
            .get("properties")
            .is_some_and(Value::is_object);
        if had_properties || !self.properties.is_empty() {
            let properties: Map<String, Value> = self
                .properties
                .iter()
                .map(|p| (p.name.clone(), p.schema.write()))
                .collect();
            map.insert("properties".into(), Value::Object(properties));
        }
        let had_items = self.original.get("items").is_some_and(Value::is_object);
        match &self.items {
            Some(items) => {
                map.insert("items".into(), items.write());
            }
            None if had_items => {
                map.remove("items");
            }
            None => {}
        }
        if !self.original.is_object() && map.is_empty() {
            // A boolean schema (or something else) nothing was added to.
            return self.original.clone();
        }
        Value::Object(map)
    }

    /// The keywords of this schema the form does not edit (kept as written), with those of a known name
    /// whose value it does not understand.
    pub fn other_keywords(&self) -> Vec<String> {
        match self.original.as_object() {
            Some(map) => map
                .keys()
                .filter(|key| {
                    !KNOWN_KEYWORDS.contains(&key.as_str())
                        || !Keywords::understood(&self.original, key)
                })
                .cloned()
                .collect(),
            None => vec![format!("`{}`", self.original)],
        }
    }

    pub fn has_type(&self, t: &str) -> bool {
        self.types.iter().any(|have| have == t)
    }

    /// Whether a keyword family applies: to its types, or to any type when none is set.
    fn accepts(&self, types: &[&str]) -> bool {
        self.types.is_empty() || types.iter().any(|t| self.has_type(t))
    }

    /// Whether the string rules (lengths, pattern) apply.
    pub fn is_string(&self) -> bool {
        self.accepts(&["string"])
    }

    /// Whether the range rules (minimum, maximum) apply.
    pub fn is_number(&self) -> bool {
        self.accepts(&["number", "integer"])
    }

    /// Whether `enum` applies (some scalar type).
    pub fn takes_enum(&self) -> bool {
        self.accepts(&["string", "number", "integer", "boolean"])
    }

    pub fn is_array(&self) -> bool {
        self.accepts(&["array"])
    }

    pub fn is_object(&self) -> bool {
        self.accepts(&["object"])
    }

    /// Sets the types, and forgets the rules that no longer apply to them (a string's pattern when it
    /// becomes a number, an object's properties when it becomes an array…).
    pub fn set_types(&mut self, types: Vec<String>) {
        self.types = types;
        if !self.is_string() {
            self.min_length = None;
            self.max_length = None;
            self.pattern = None;
        }
        if !self.is_number() {
            self.minimum = None;
            self.maximum = None;
        }
        if !self.takes_enum() {
            self.enum_values = None;
        }
        if !self.is_array() {
            self.items = None;
            self.min_items = None;
            self.max_items = None;
        }
        if !self.is_object() {
            self.properties.clear();
            self.extra_required.clear();
            self.additional = None;
        }
    }

    /// The node at `path` (this one for an empty path).
    pub fn at(&self, path: &[Step]) -> Option<&Node> {
        path.iter().try_fold(self, |node, step| match step {
            Step::Prop(id) => node
                .properties
                .iter()
                .find(|p| p.id == *id)
                .map(|p| &p.schema),
            Step::Items => node.items.as_deref(),
        })
    }

    pub fn at_mut(&mut self, path: &[Step]) -> Option<&mut Node> {
        let mut node = self;
        for step in path {
            node = match step {
                Step::Prop(id) => node
                    .properties
                    .iter_mut()
                    .find(|p| p.id == *id)
                    .map(|p| &mut p.schema)?,
                Step::Items => node.items.as_deref_mut()?,
            };
        }
        Some(node)
    }

    /// The property a path ending in [`Step::Prop`] names.
    pub fn property(&self, path: &[Step]) -> Option<&Property> {
        let (Step::Prop(id), parent) = path.split_last()? else {
            return None;
        };
        self.at(parent)?.properties.iter().find(|p| p.id == *id)
    }

    pub fn property_mut(&mut self, path: &[Step]) -> Option<&mut Property> {
        let (Step::Prop(id), parent) = path.split_last()? else {
            return None;
        };
        self.at_mut(parent)?
            .properties
            .iter_mut()
            .find(|p| p.id == *id)
    }

    /// Adds a property (a string, unnamed) to the object at `path`; its id.
    pub fn add_property(&mut self, path: &[Step]) -> Option<u64> {
        let node = self.at_mut(path)?;
        let id = next_id();
        node.properties.push(Property {
            id,
            name: String::new(),
            required: false,
            schema: Node::of_type("string"),
        });
        Some(id)
    }

    pub fn remove_property(&mut self, path: &[Step]) {
        if let (Some((Step::Prop(id), parent)), true) = (path.split_last(), !path.is_empty()) {
            if let Some(node) = self.at_mut(parent) {
                node.properties.retain(|p| p.id != *id);
            }
        }
    }

    /// What must be fixed before saving: unnamed and duplicate properties, bounds the wrong way round.
    /// Each problem names where it is (`address.city`).
    pub fn problems(&self) -> Vec<String> {
        self.problems_with(&|_| None)
    }

    /// The problems, with each `pattern` checked by `pattern_problem` (why it is not a valid regular
    /// expression, if it is not: the browser's own `RegExp` knows what the validator will accept).
    pub fn problems_with(&self, pattern_problem: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        let mut problems = Vec::new();
        self.collect_problems("", pattern_problem, &mut problems);
        problems
    }

    fn collect_problems(
        &self,
        at: &str,
        pattern_problem: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<String>,
    ) {
        let here = |what: &str| {
            if at.is_empty() {
                let mut chars = what.chars();
                let first: String = chars
                    .next()
                    .map(|c| c.to_uppercase().collect())
                    .unwrap_or_default();
                format!("{first}{}.", chars.as_str())
            } else {
                format!("In {at}: {what}.")
            }
        };
        let above = |low: &Option<Number>, high: &Option<Number>| match (low, high) {
            (Some(low), Some(high)) => {
                low.as_f64().unwrap_or(f64::NAN) > high.as_f64().unwrap_or(f64::NAN)
            }
            _ => false,
        };
        if above(&self.min_length, &self.max_length) {
            problems.push(here("the minimum length is above the maximum length"));
        }
        if above(&self.minimum, &self.maximum) {
            problems.push(here("the minimum is above the maximum"));
        }
        if above(&self.min_items, &self.max_items) {
            problems.push(here("the minimum number of items is above the maximum"));
        }
        if let Some(why) = self.pattern.as_deref().and_then(pattern_problem) {
            problems.push(here(&format!(
                "the pattern is not a valid regular expression ({why})"
            )));
        }
        if self.enum_values.as_ref().is_some_and(Vec::is_empty) {
            problems.push(here("the list of allowed values is empty"));
        }
        let mut seen: Vec<&str> = Vec::new();
        for property in &self.properties {
            let name = property.name.as_str();
            if name.is_empty() {
                problems.push(here("a property has no name"));
            } else if seen.contains(&name) {
                problems.push(here(&format!("two properties are named “{name}”")));
            }
            seen.push(name);
            let name_or_placeholder = if name.is_empty() { "(unnamed)" } else { name };
            let nested = if at.is_empty() {
                name_or_placeholder.to_owned()
            } else {
                format!("{at}.{name_or_placeholder}")
            };
            property
                .schema
                .collect_problems(&nested, pattern_problem, problems);
        }
        if let Some(items) = &self.items {
            items.collect_problems(&format!("{at}[]"), pattern_problem, problems);
        }
    }

    /// The rules set on this schema, briefly (`enum: a, b · 1 to 20 characters`), for a collapsed row.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        // `unit` is (singular, plural), said after the number it follows.
        let range = |low: &Option<Number>, high: &Option<Number>, unit: (&str, &str)| {
            let unit = |n: &Number| {
                if n.as_f64() == Some(1.0) {
                    unit.0
                } else {
                    unit.1
                }
            };
            match (low, high) {
                (Some(l), Some(h)) => Some(format!("{l} to {h}{}", unit(h))),
                (Some(l), None) => Some(format!("at least {l}{}", unit(l))),
                (None, Some(h)) => Some(format!("at most {h}{}", unit(h))),
                (None, None) => None,
            }
        };
        if let Some(values) = &self.enum_values {
            let shown: Vec<String> = values.iter().take(4).map(value_label).collect();
            let more = if values.len() > 4 { ", …" } else { "" };
            parts.push(format!("one of {}{more}", shown.join(", ")));
        }
        parts.extend(range(
            &self.min_length,
            &self.max_length,
            (" character", " characters"),
        ));
        if let Some(pattern) = &self.pattern {
            parts.push(format!("matches {pattern}"));
        }
        parts.extend(range(&self.minimum, &self.maximum, ("", "")));
        parts.extend(range(&self.min_items, &self.max_items, (" item", " items")));
        if let Some(items) = &self.items {
            let inner = items.summary();
            if !inner.is_empty() {
                parts.push(format!("items: {inner}"));
            }
        }
        // What the form does not edit, by name (a `format`, a `oneOf`…).
        let other: Vec<String> = self
            .other_keywords()
            .into_iter()
            .filter(|k| !k.starts_with('`'))
            .collect();
        if !other.is_empty() {
            parts.push(format!("also {}", other.join(", ")));
        }
        parts.join(" · ")
    }
}

impl Default for Node {
    fn default() -> Self {
        Node::new()
    }
}

/// A value as the form shows it in a list: strings bare, anything else as JSON.
pub fn value_label(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An `enum` as the form's comma-separated text, when it reads back as the same values for these types
/// (otherwise it is edited in the JSON schema).
pub fn enum_text(values: &[Value], types: &[String]) -> Option<String> {
    let text = values
        .iter()
        .map(|value| match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {
                Some(value_label(value))
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?
        .join(", ");
    (parse_enum(&text, types) == values).then_some(text)
}

/// The comma-separated values of the form's `enum` field, typed as the property's types allow: a number
/// for a number, `true`/`false` for a boolean, `null` for null, a string otherwise.
pub fn parse_enum(text: &str, types: &[String]) -> Vec<Value> {
    let allows = |t: &str| types.is_empty() || types.iter().any(|have| have == t);
    text.split(',')
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(|token| {
            if allows("number") || allows("integer") {
                if let Ok(Value::Number(n)) = serde_json::from_str::<Value>(token) {
                    return Value::Number(n);
                }
            }
            if allows("boolean") && (token == "true" || token == "false") {
                return Value::Bool(token == "true");
            }
            if allows("null") && token == "null" {
                return Value::Null;
            }
            Value::String(token.to_owned())
        })
        .collect()
}

/// The number a form field holds: `Some(None)` when empty, `None` when it is not a number (yet).
pub fn parse_number(text: &str) -> Option<Option<Number>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(n)) => Some(Some(n)),
        _ => None,
    }
}

/// A count a form field holds (a length, a number of items): a whole number, at least 0.
pub fn parse_count(text: &str) -> Option<Option<Number>> {
    match parse_number(text)? {
        Some(n) if n.as_u64().is_some() => Some(Some(n)),
        Some(_) => None,
        None => Some(None),
    }
}

/// An event's rules, as the form shows them: the schema of its fields (properties or traits) out of the
/// schema of the whole message.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRules {
    /// The rules as read: everything outside the fields is written back from them.
    pub original: Value,
    /// Where the fields were read from (`properties` or `traits`).
    pub container: &'static str,
    /// Whether the rules had a schema there.
    pub present: bool,
    pub fields: Node,
}

impl EventRules {
    pub fn read(rules: &Value, event_type: &str) -> EventRules {
        EventRules::read_like(rules, event_type, None)
    }

    /// The rules read again after an edit as JSON, the form's rows kept where the names are (see
    /// [`Node::read_like`]).
    pub fn read_like(rules: &Value, event_type: &str, previous: Option<&Node>) -> EventRules {
        let container = container_of(event_type);
        let at = rules.get("properties").and_then(|p| p.get(container));
        // An event without rules for its fields starts as an empty object, written only once it has some.
        let empty = json!({"type": "object"});
        EventRules {
            original: rules.clone(),
            container,
            present: at.is_some(),
            fields: Node::read_like(at.unwrap_or(&empty), previous),
        }
    }

    /// The rules of an event of `event_type` (the fields move from `properties` to `traits` when the type
    /// went from `track` to `identify`).
    pub fn write(&self, event_type: &str) -> Value {
        let target = container_of(event_type);
        let fields = self.fields.write();
        let moved = target != self.container;
        let changed = fields != self.fields.original;
        if !moved && !changed {
            return self.original.clone();
        }
        let mut root = match &self.original {
            Value::Object(map) => map.clone(),
            _ => {
                let mut map = Map::new();
                map.insert("$schema".into(), SCHEMA_DRAFT.into());
                map
            }
        };
        if moved {
            if let Some(properties) = root.get_mut("properties").and_then(Value::as_object_mut) {
                properties.remove(self.container);
            }
            if let Some(required) = root.get_mut("required").and_then(Value::as_array_mut) {
                for name in required.iter_mut() {
                    if name == self.container {
                        *name = Value::String(target.to_owned());
                    }
                }
            }
        }
        if self.present || changed {
            if !root.get("properties").is_some_and(Value::is_object) {
                root.insert("properties".into(), Value::Object(Map::new()));
                root.entry("type").or_insert_with(|| "object".into());
            }
            if let Some(properties) = root.get_mut("properties").and_then(Value::as_object_mut) {
                properties.insert(target.to_owned(), fields);
            }
        }
        // Required properties need the object they are in: the message must have it.
        if self.fields.properties.iter().any(|p| p.required) {
            let required = root
                .entry("required")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = required.as_array_mut() {
                if !list.iter().any(|name| name == target) {
                    list.push(Value::String(target.to_owned()));
                }
            }
        }
        Value::Object(root)
    }

    /// What the rules hold outside the fields that the form shows (kept as written): top-level keywords and
    /// rules for other parts of the message (`properties.context`).
    pub fn other_rules(&self) -> Vec<String> {
        let Some(root) = self.original.as_object() else {
            return vec!["(not an object)".into()];
        };
        let mut other = Vec::new();
        for (key, value) in root {
            match key.as_str() {
                "$schema" | "type" | "required" => {}
                "properties" => match value.as_object() {
                    Some(properties) => other.extend(
                        properties
                            .keys()
                            .filter(|k| k.as_str() != self.container)
                            .map(|k| format!("properties.{k}")),
                    ),
                    None => other.push(key.clone()),
                },
                _ => other.push(key.clone()),
            }
        }
        other
    }
}

/// An event of the draft being edited.
#[derive(Clone, Debug, PartialEq)]
pub struct EventForm {
    pub event_type: String,
    /// The event name (`track` only; kept while the type is changed back and forth).
    pub name: String,
    pub description: String,
    pub rules: EventRules,
}

impl EventForm {
    pub fn read(event: &PlanEvent) -> EventForm {
        EventForm {
            event_type: event.event_type.clone(),
            name: event.name.clone(),
            description: event.description.clone().unwrap_or_default(),
            rules: EventRules::read(&event.rules, &event.event_type),
        }
    }

    /// A new event of `event_type`, with an empty object for its properties or traits.
    pub fn new(event_type: &str) -> EventForm {
        let container = container_of(event_type);
        let rules = json!({
            "$schema": SCHEMA_DRAFT,
            "type": "object",
            "properties": { container: { "type": "object", "properties": {} } },
        });
        EventForm {
            event_type: event_type.to_owned(),
            name: String::new(),
            description: String::new(),
            rules: EventRules::read(&rules, event_type),
        }
    }

    pub fn is_track(&self) -> bool {
        self.event_type == "track"
    }

    pub fn rules_value(&self) -> Value {
        self.rules.write(&self.event_type)
    }

    /// Replaces the rules (edited as JSON): the form reads them again.
    pub fn set_rules(&mut self, rules: &Value) {
        self.rules = EventRules::read_like(rules, &self.event_type, Some(&self.rules.fields));
    }

    pub fn to_plan_event(&self) -> PlanEvent {
        PlanEvent {
            name: if self.is_track() {
                self.name.clone()
            } else {
                String::new()
            },
            event_type: self.event_type.clone(),
            description: Some(self.description.clone()).filter(|d| !d.trim().is_empty()),
            rules: self.rules_value(),
        }
    }

    /// How the event is called in lists: its name for `track`, its type otherwise.
    pub fn title(&self) -> String {
        match (self.is_track(), self.name.is_empty()) {
            (true, true) => "Unnamed event".into(),
            (true, false) => self.name.clone(),
            (false, _) => format!("{} rules", self.event_type),
        }
    }

    /// What must be fixed before saving.
    pub fn problems(&self) -> Vec<String> {
        self.problems_with(&|_| None)
    }

    /// What must be fixed before saving, with the patterns checked (see [`Node::problems_with`]).
    pub fn problems_with(&self, pattern_problem: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        let mut problems = Vec::new();
        if self.is_track() && self.name.trim().is_empty() {
            problems.push("The event needs a name.".to_owned());
        }
        problems.extend(self.rules.fields.problems_with(pattern_problem));
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every keyword the form edits, at every level it edits them, and keywords it does not know.
    fn full_schema() -> Value {
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "$comment": "kept",
            "properties": {
                "context": { "type": "object", "required": ["library"] },
                "properties": {
                    "type": "object",
                    "description": "Order properties",
                    "additionalProperties": false,
                    "properties": {
                        "order_id": { "type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-f0-9]+$", "format": "uuid" },
                        "revenue": { "type": ["number", "null"], "minimum": 0, "maximum": 1e6, "description": "In the currency" },
                        "quantity": { "type": "integer", "minimum": 1, "exclusiveMaximum": 100 },
                        "currency": { "type": "string", "enum": ["USD", "EUR"] },
                        "gift": { "type": "boolean" },
                        "anything": {},
                        "choice": { "oneOf": [{ "type": "string" }, { "type": "number" }] },
                        "address": {
                            "type": "object",
                            "additionalProperties": true,
                            "required": ["city", "country"],
                            "properties": {
                                "city": { "type": "string" },
                                "zip": { "type": "string", "pattern": "^[0-9]{5}$" }
                            }
                        },
                        "tags": { "type": "array", "minItems": 1, "maxItems": 10, "uniqueItems": true, "items": { "type": "string", "enum": ["a", "b"] } },
                        "products": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["sku"],
                                "properties": {
                                    "sku": { "type": "string" },
                                    "price": { "type": "number", "minimum": 0 }
                                }
                            }
                        },
                        "odd": { "type": "strnig", "minLength": -1, "required": true },
                        "tuple": { "type": "array", "items": [{ "type": "string" }] },
                        "yes": true
                    },
                    "required": ["order_id", "revenue", "legacy_field"]
                }
            },
            "required": ["properties"]
        })
    }

    #[test]
    fn a_schema_reads_and_writes_back_unchanged() {
        let schema = full_schema();
        let rules = EventRules::read(&schema, "track");
        assert_eq!(rules.write("track"), schema);
        // Serialized the same, key order included.
        assert_eq!(
            serde_json::to_string(&rules.write("track")).unwrap(),
            serde_json::to_string(&schema).unwrap()
        );
        // Through the whole form of an event, too.
        let event = PlanEvent {
            name: "Order Completed".into(),
            event_type: "track".into(),
            description: Some("Checkout".into()),
            rules: schema.clone(),
        };
        assert_eq!(EventForm::read(&event).to_plan_event(), event);
    }

    #[test]
    fn the_form_reads_every_keyword_it_edits() {
        let rules = EventRules::read(&full_schema(), "track");
        let fields = &rules.fields;
        assert_eq!(fields.types, ["object"]);
        assert_eq!(fields.additional, Some(false));
        assert_eq!(fields.description.as_deref(), Some("Order properties"));
        assert_eq!(fields.extra_required, ["legacy_field"]);
        let names: Vec<&str> = fields.properties.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "order_id", "revenue", "quantity", "currency", "gift", "anything", "choice",
                "address", "tags", "products", "odd", "tuple", "yes"
            ]
        );
        let prop = |name: &str| fields.properties.iter().find(|p| p.name == name).unwrap();
        let order_id = prop("order_id");
        assert!(order_id.required);
        assert_eq!(order_id.schema.types, ["string"]);
        assert_eq!(order_id.schema.min_length, Some(1.into()));
        assert_eq!(order_id.schema.max_length, Some(64.into()));
        assert_eq!(order_id.schema.pattern.as_deref(), Some("^[a-f0-9]+$"));
        assert_eq!(order_id.schema.other_keywords(), ["format"]);
        let revenue = prop("revenue");
        assert!(revenue.required);
        assert_eq!(revenue.schema.types, ["number", "null"]);
        assert_eq!(revenue.schema.minimum, Some(0.into()));
        assert_eq!(
            revenue.schema.maximum.as_ref().and_then(Number::as_f64),
            Some(1e6)
        );
        assert_eq!(
            revenue.schema.description.as_deref(),
            Some("In the currency")
        );
        assert!(!prop("quantity").required);
        assert_eq!(
            prop("quantity").schema.other_keywords(),
            ["exclusiveMaximum"]
        );
        assert_eq!(
            prop("currency").schema.enum_values,
            Some(vec![json!("USD"), json!("EUR")])
        );
        assert!(prop("anything").schema.types.is_empty());
        assert_eq!(prop("choice").schema.other_keywords(), ["oneOf"]);
        // Nested object.
        let address = &prop("address").schema;
        assert_eq!(address.additional, Some(true));
        assert_eq!(address.properties.len(), 2);
        assert!(address.properties[0].required);
        assert!(!address.properties[1].required);
        assert_eq!(address.extra_required, ["country"]);
        assert_eq!(
            address.properties[1].schema.pattern.as_deref(),
            Some("^[0-9]{5}$")
        );
        // Arrays: of strings with an enum, of objects with their own properties.
        let tags = &prop("tags").schema;
        assert_eq!(
            (tags.min_items.clone(), tags.max_items.clone()),
            (Some(1.into()), Some(10.into()))
        );
        assert_eq!(tags.items.as_ref().unwrap().types, ["string"]);
        assert_eq!(
            tags.items
                .as_ref()
                .unwrap()
                .enum_values
                .as_ref()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(tags.other_keywords(), ["uniqueItems"]);
        let products = prop("products").schema.items.as_ref().unwrap();
        assert_eq!(products.types, ["object"]);
        assert_eq!(products.properties[0].name, "sku");
        assert!(products.properties[0].required);
        assert_eq!(products.properties[1].schema.minimum, Some(0.into()));
        // What it does not understand is left alone, and said so.
        let odd = &prop("odd").schema;
        assert!(odd.types.is_empty());
        assert_eq!(odd.min_length, None);
        assert_eq!(odd.other_keywords(), ["type", "minLength", "required"]);
        assert!(prop("tuple").schema.items.is_none());
        assert_eq!(prop("tuple").schema.other_keywords(), ["items"]);
        assert_eq!(prop("yes").schema.other_keywords(), ["`true`"]);
        assert_eq!(rules.other_rules(), ["$comment", "properties.context"]);
    }

    #[test]
    fn edits_change_only_what_they_change() {
        let schema = full_schema();
        let mut rules = EventRules::read(&schema, "track");
        let id =
            |node: &Node, name: &str| node.properties.iter().find(|p| p.name == name).unwrap().id;
        let order_id = id(&rules.fields, "order_id");
        let address = id(&rules.fields, "address");
        let products = id(&rules.fields, "products");
        let odd = id(&rules.fields, "odd");
        {
            let fields = &mut rules.fields;
            // A constraint changed, one removed, requiredness dropped: its unknown `format` stays.
            let p = fields.property_mut(&[Step::Prop(order_id)]).unwrap();
            p.schema.max_length = Some(36.into());
            p.schema.pattern = None;
            p.required = false;
            // Nested: a property of the address made required, one added.
            let city = id(fields.at(&[Step::Prop(address)]).unwrap(), "zip");
            fields
                .property_mut(&[Step::Prop(address), Step::Prop(city)])
                .unwrap()
                .required = true;
            let street = fields.add_property(&[Step::Prop(address)]).unwrap();
            fields
                .property_mut(&[Step::Prop(address), Step::Prop(street)])
                .unwrap()
                .name = "street".into();
            // Inside an array's items.
            let price = id(
                fields.at(&[Step::Prop(products), Step::Items]).unwrap(),
                "price",
            );
            fields
                .at_mut(&[Step::Prop(products), Step::Items, Step::Prop(price)])
                .unwrap()
                .maximum = Some(Number::from_f64(99.5).unwrap());
            // A property the form cannot read, renamed: its schema goes along untouched.
            fields.property_mut(&[Step::Prop(odd)]).unwrap().name = "even".into();
            fields.additional = None;
        }
        let written = rules.write("track");
        let mut expected = full_schema();
        let props = expected.pointer_mut("/properties/properties").unwrap();
        props
            .as_object_mut()
            .unwrap()
            .remove("additionalProperties");
        props["required"] = json!(["revenue", "legacy_field"]);
        let p = &mut props["properties"];
        p["order_id"] =
            json!({ "type": "string", "minLength": 1, "maxLength": 36, "format": "uuid" });
        p["address"]["required"] = json!(["city", "zip", "country"]);
        p["address"]["properties"]["street"] = json!({ "type": "string" });
        p["products"]["items"]["properties"]["price"]["maximum"] = json!(99.5);
        let odd_schema = p.as_object_mut().unwrap().remove("odd").unwrap();
        // Renamed in place: the order is the form's.
        let mut reordered = Map::new();
        for (key, value) in p.as_object().unwrap() {
            if key == "tuple" {
                reordered.insert("even".into(), odd_schema.clone());
            }
            reordered.insert(key.clone(), value.clone());
        }
        *p = Value::Object(reordered);
        assert_eq!(written, expected);
        assert_eq!(
            written.pointer("/properties/properties/properties/even"),
            Some(&json!({ "type": "strnig", "minLength": -1, "required": true }))
        );
        assert_eq!(written["$comment"], "kept");
        assert_eq!(
            written.pointer("/properties/context"),
            schema.pointer("/properties/context")
        );
    }

    #[test]
    fn changing_a_type_drops_the_rules_that_no_longer_apply() {
        let mut node = Node::read(&json!({
            "type": "string", "minLength": 2, "pattern": "x", "enum": ["a"], "format": "email", "description": "d"
        }));
        node.set_types(vec!["integer".into()]);
        node.minimum = Some(1.into());
        assert_eq!(
            node.write(),
            json!({ "type": "integer", "enum": ["a"], "format": "email", "description": "d", "minimum": 1 })
        );
        node.set_types(vec!["array".into()]);
        node.items = Some(Box::new(Node::of_type("object")));
        let id = node.add_property(&[Step::Items]).unwrap();
        node.property_mut(&[Step::Items, Step::Prop(id)])
            .unwrap()
            .name = "sku".into();
        node.property_mut(&[Step::Items, Step::Prop(id)])
            .unwrap()
            .required = true;
        assert_eq!(
            node.write(),
            json!({
                "type": "array", "format": "email", "description": "d",
                "items": { "type": "object", "required": ["sku"], "properties": { "sku": { "type": "string" } } }
            })
        );
        // Back to any type: nothing is dropped.
        node.set_types(vec![]);
        assert!(node.items.is_some());
        assert!(node.write().get("type").is_none());
    }

    #[test]
    fn a_new_event_gets_its_fields_where_its_type_has_them() {
        let mut form = EventForm::new("track");
        form.name = "Signed Up".into();
        let id = form.rules.fields.add_property(&[]).unwrap();
        let p = form.rules.fields.property_mut(&[Step::Prop(id)]).unwrap();
        p.name = "plan".into();
        p.required = true;
        p.schema.enum_values = Some(parse_enum("free, pro", &p.schema.types));
        form.rules.fields.additional = Some(false);
        let expected = json!({
            "$schema": SCHEMA_DRAFT,
            "type": "object",
            "properties": { "properties": {
                "type": "object",
                "properties": { "plan": { "type": "string", "enum": ["free", "pro"] } },
                "required": ["plan"],
                "additionalProperties": false
            } },
            "required": ["properties"]
        });
        assert_eq!(form.rules_value(), expected);
        // Identify: the same fields are traits.
        form.event_type = "identify".into();
        let identify = form.to_plan_event();
        assert_eq!(identify.name, "");
        assert_eq!(identify.rules["required"], json!(["traits"]));
        assert!(identify.rules.pointer("/properties/properties").is_none());
        assert_eq!(
            identify.rules.pointer("/properties/traits"),
            expected.pointer("/properties/properties")
        );
        // Read back as identify rules, they are the same again.
        let again = EventForm::read(&identify);
        assert_eq!(again.to_plan_event(), identify);
    }

    #[test]
    fn rules_without_fields_stay_without_them_until_some_are_added() {
        for rules in [
            json!({}),
            json!({ "type": "object", "properties": { "context": {} } }),
            json!(true),
        ] {
            let mut event = EventRules::read(&rules, "page");
            assert!(!event.present);
            assert_eq!(event.write("page"), rules);
            let id = event.fields.add_property(&[]).unwrap();
            event.fields.property_mut(&[Step::Prop(id)]).unwrap().name = "path".into();
            let written = event.write("page");
            assert_eq!(
                written.pointer("/properties/properties"),
                Some(&json!({ "type": "object", "properties": { "path": { "type": "string" } } })),
                "{rules}"
            );
        }
    }

    #[test]
    fn properties_keep_their_rows_when_the_json_is_edited() {
        let mut form = EventForm::read(&PlanEvent {
            name: "Order Completed".into(),
            event_type: "track".into(),
            description: None,
            rules: full_schema(),
        });
        let ids = |form: &EventForm| -> Vec<(String, u64)> {
            form.rules
                .fields
                .properties
                .iter()
                .map(|p| (p.name.clone(), p.id))
                .collect()
        };
        let before = ids(&form);
        let sku_before = form.rules.fields.properties[9]
            .schema
            .items
            .as_ref()
            .unwrap()
            .properties[0]
            .id;
        let mut rules = form.rules_value();
        let fields = rules
            .pointer_mut("/properties/properties/properties")
            .unwrap()
            .as_object_mut()
            .unwrap();
        fields.remove("gift");
        fields.insert("coupon".into(), json!({ "type": "string" }));
        form.set_rules(&rules);
        let after = ids(&form);
        assert_eq!(form.rules_value(), rules);
        for (name, id) in &before {
            if name != "gift" {
                assert!(after.contains(&(name.clone(), *id)), "{name} kept its id");
            }
        }
        let coupon = after.iter().find(|(n, _)| n == "coupon").unwrap().1;
        assert!(
            before.iter().all(|(_, id)| *id != coupon),
            "a new property, a new id"
        );
        let products = form
            .rules
            .fields
            .properties
            .iter()
            .find(|p| p.name == "products")
            .unwrap();
        assert_eq!(
            products.schema.items.as_ref().unwrap().properties[0].id,
            sku_before
        );
    }

    #[test]
    fn enums_as_comma_separated_text() {
        let strings = vec!["string".to_owned()];
        let numbers = vec!["number".to_owned(), "null".to_owned()];
        assert_eq!(
            parse_enum(" USD, EUR ,, GBP", &strings),
            [json!("USD"), json!("EUR"), json!("GBP")]
        );
        assert_eq!(
            parse_enum("1, 2.5, null, x", &numbers),
            [json!(1), json!(2.5), Value::Null, json!("x")]
        );
        assert_eq!(parse_enum("5, true", &[]), [json!(5), json!(true)]);
        assert_eq!(
            enum_text(&[json!("USD"), json!("EUR")], &strings).as_deref(),
            Some("USD, EUR")
        );
        assert_eq!(
            enum_text(&[json!(1), Value::Null], &numbers).as_deref(),
            Some("1, null")
        );
        // Values the text would change: edited as JSON.
        assert_eq!(enum_text(&[json!("a, b")], &strings), None);
        assert_eq!(enum_text(&[json!("5")], &numbers), None);
        assert_eq!(enum_text(&[json!({ "a": 1 })], &strings), None);
        assert_eq!(enum_text(&[json!(" padded")], &strings), None);
    }

    #[test]
    fn numbers_and_counts_from_form_fields() {
        assert_eq!(parse_number(""), Some(None));
        assert_eq!(parse_number(" 12 "), Some(Some(12.into())));
        assert_eq!(parse_number("-1.5"), Some(Number::from_f64(-1.5)));
        assert_eq!(parse_number("-"), None);
        assert_eq!(
            parse_number("1e3").flatten().and_then(|n| n.as_f64()),
            Some(1000.0)
        );
        assert_eq!(parse_count("3"), Some(Some(3.into())));
        assert_eq!(parse_count("-3"), None);
        assert_eq!(parse_count("2.5"), None);
    }

    #[test]
    fn problems_name_where_they_are() {
        let mut form = EventForm::new("track");
        let a = form.rules.fields.add_property(&[]).unwrap();
        let b = form.rules.fields.add_property(&[]).unwrap();
        let fields = &mut form.rules.fields;
        fields.property_mut(&[Step::Prop(a)]).unwrap().name = "address".into();
        fields.property_mut(&[Step::Prop(b)]).unwrap().name = "address".into();
        let node = fields.at_mut(&[Step::Prop(a)]).unwrap();
        node.set_types(vec!["object".into()]);
        let c = node.add_property(&[]).unwrap();
        node.property_mut(&[Step::Prop(c)])
            .unwrap()
            .schema
            .min_length = Some(5.into());
        node.property_mut(&[Step::Prop(c)])
            .unwrap()
            .schema
            .max_length = Some(2.into());
        assert_eq!(
            form.problems(),
            [
                "The event needs a name.",
                "In address: a property has no name.",
                "In address.(unnamed): the minimum length is above the maximum length.",
                "Two properties are named “address”.",
            ]
        );
        // Patterns, as the browser's RegExp judges them.
        let pattern = form.rules.fields.add_property(&[]).unwrap();
        let fields = &mut form.rules.fields;
        fields.property_mut(&[Step::Prop(pattern)]).unwrap().name = "code".into();
        fields.at_mut(&[Step::Prop(pattern)]).unwrap().pattern = Some("([a-z".into());
        let unbalanced = |p: &str| {
            (p.matches('(').count() != p.matches(')').count()).then(|| "unbalanced".to_owned())
        };
        assert_eq!(
            form.problems_with(&unbalanced).last().map(String::as_str),
            Some("In code: the pattern is not a valid regular expression (unbalanced).")
        );
        assert!(!form.problems().iter().any(|p| p.contains("pattern")));
        form.rules.fields.remove_property(&[Step::Prop(pattern)]);
        form.name = "x".into();
        let fields = &mut form.rules.fields;
        fields.remove_property(&[Step::Prop(b)]);
        fields
            .property_mut(&[Step::Prop(a), Step::Prop(c)])
            .unwrap()
            .name = "city".into();
        fields
            .at_mut(&[Step::Prop(a), Step::Prop(c)])
            .unwrap()
            .max_length = None;
        assert!(form.problems().is_empty(), "{:?}", form.problems());
    }

    #[test]
    fn summaries_of_rules() {
        let node = Node::read(
            &json!({ "type": "string", "enum": ["a", "b"], "minLength": 1, "maxLength": 5, "pattern": "^x" }),
        );
        assert_eq!(
            node.summary(),
            "one of a, b · 1 to 5 characters · matches ^x"
        );
        let node = Node::read(
            &json!({ "type": "array", "minItems": 1, "items": { "type": "integer", "maximum": 9 } }),
        );
        assert_eq!(node.summary(), "at least 1 item · items: at most 9");
        let node =
            Node::read(&json!({ "type": "string", "maxLength": 1, "format": "uuid", "oneOf": [] }));
        assert_eq!(node.summary(), "at most 1 character · also format, oneOf");
        assert_eq!(Node::new().summary(), "");
    }
}
