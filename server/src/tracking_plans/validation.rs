//! Tracking-plan validation as rudder-transformer does it (`src/util/eventValidation.js`), so that what the
//! control plane shows (validate, impact preview) is what a data plane will report.
//!
//! The transformer runs Ajv (`allErrors`) and maps each Ajv error to a violation: the classification, the
//! message and `meta.{instancePath, schemaPath}` all come from Ajv. We validate with the `jsonschema` crate,
//! whose errors carry the same information in another shape, and rebuild Ajv's wording and paths from them
//! (the message texts are Ajv 8's `lib/vocabularies/**` error definitions).

use std::collections::HashMap;
use std::fmt;

use app::api::tracking_plans::{PlanEvent, Violation, EVENT_TYPES};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::{Map, Value};

pub const UNPLANNED_EVENT: &str = "Unplanned-Event";
pub const REQUIRED_MISSING: &str = "Required-Missing";
pub const DATATYPE_MISMATCH: &str = "Datatype-Mismatch";
pub const ADDITIONAL_PROPERTIES: &str = "Additional-Properties";
pub const ADVANCE_RULES_VIOLATION: &str = "Advance-Rules-Violation";
pub const UNKNOWN_VIOLATION: &str = "Unknown-Violation";

/// The index of a validated message type in [`EVENT_TYPES`]; `None` for the others (`alias`, unknown).
/// Case-sensitive, as the transformer's `supportedEventTypes[event.message.type]` look-up is.
pub(crate) fn type_index(event_type: &str) -> Option<usize> {
    EVENT_TYPES.iter().position(|t| *t == event_type)
}

/// One event's compiled schema, with the schema itself: Ajv's messages quote schema values (`must be
/// string,null`, `must be >= 0`) and its schema paths follow `$ref`s as written, which the validator's errors
/// do not carry.
struct EventSchema {
    validator: Validator,
    rules: Value,
}

/// A plan's events, compiled once: validating is then a look-up and a validator run.
pub struct CompiledPlan {
    /// By type (index in [`EVENT_TYPES`]), then by name: looked up with the message's borrowed strings.
    /// `None`: the event is planned with empty rules, which the transformer treats as not planned at all
    /// (`Object.keys(eventSchema).length === 0`).
    by_type: [HashMap<String, Option<EventSchema>>; 5],
}

/// Why a plan's events cannot be compiled: which event (and which part of it), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    field: String,
    message: String,
}

impl SchemaProblem {
    fn new(index: usize, part: Option<&str>, message: impl Into<String>) -> SchemaProblem {
        let field = match part {
            Some(part) => format!("events[{index}].{part}"),
            None => format!("events[{index}]"),
        };
        SchemaProblem {
            field,
            message: message.into(),
        }
    }

    /// `events[3]`, `events[3].name`, `events[3].eventType` or `events[3].rules`.
    pub fn field(&self) -> String {
        self.field.clone()
    }
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SchemaProblem {}

/// Refuses every remote `$ref`: a plan must be self-contained, and compiling one must never reach out to the
/// network or the file system (whatever features another crate turns on for `jsonschema`).
struct NoRetrieval;

impl jsonschema::Retrieve for NoRetrieval {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "{} cannot be fetched: a plan's schemas must not refer to other documents",
            uri.as_str()
        )
        .into())
    }
}

/// The schema the transformer compiles from an event's rules, and the draft it compiles it with.
fn prepared(rules: &Map<String, Value>) -> (Value, Draft) {
    let draft4 = matches!(rules.get("$schema"), Some(Value::String(s)) if s.contains("draft-04"));
    let mut schema = rules.clone();
    // The transformer deletes it: config-backend injected `version` into non-track schemas.
    schema.remove("version");
    // The draft is chosen here, as the transformer chooses its Ajv instance. Left in, a draft-06/07 `$schema`
    // makes jsonschema compile under 2019-09 with no vocabulary enabled: every keyword ignored, every event valid.
    schema.remove("$schema");
    let draft = if draft4 {
        Draft::Draft4
    } else {
        // Ajv2019, which also accepts draft-06/07 schemas.
        Draft::Draft201909
    };
    (Value::Object(schema), draft)
}

/// The meta-schemas the transformer's Ajv instances know: another `$schema` makes Ajv throw when compiling,
/// and the data plane then fails the event instead of validating it.
fn unknown_meta_schema(rules: &Map<String, Value>) -> Option<String> {
    let schema = match rules.get("$schema")? {
        Value::String(s) => s,
        other => return Some(format!("/$schema: {other} is not a meta-schema URI")),
    };
    let id = schema.strip_suffix('#').unwrap_or(schema);
    let known: &[&str] = if schema.contains("draft-04") {
        &["http://json-schema.org/draft-04/schema"]
    } else {
        &[
            "https://json-schema.org/draft/2019-09/schema",
            "http://json-schema.org/draft-07/schema",
            "http://json-schema.org/draft-06/schema",
        ]
    };
    (!known.contains(&id)).then(|| {
        format!(
            "/$schema: {schema:?} is not a meta-schema the data plane knows: {}",
            known.join(", ")
        )
    })
}

fn compile_schema(schema: &Value, draft: Draft) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(draft)
        .with_retriever(NoRetrieval)
        // ajv-formats is loaded: `format` is an assertion, not an annotation. Formats Ajv knows and this crate
        // does not (int32, password…) are ignored rather than refused.
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| {
            let at = e.instance_path.as_str();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
}

impl CompiledPlan {
    pub fn compile(events: &[PlanEvent]) -> Result<CompiledPlan, SchemaProblem> {
        let mut by_type: [HashMap<String, Option<EventSchema>>; 5] = Default::default();
        let mut first_at: [HashMap<&str, usize>; 5] = Default::default();
        for (i, event) in events.iter().enumerate() {
            let Some(t) = type_index(&event.event_type) else {
                return Err(SchemaProblem::new(
                    i,
                    Some("eventType"),
                    format!(
                        "eventType must be one of {} (not {:?})",
                        EVENT_TYPES.join(", "),
                        event.event_type
                    ),
                ));
            };
            if t == 0 && event.name.is_empty() {
                return Err(SchemaProblem::new(
                    i,
                    Some("name"),
                    "a track event needs a name: the message's `event`",
                ));
            }
            if t != 0 && !event.name.is_empty() {
                return Err(SchemaProblem::new(
                    i,
                    Some("name"),
                    format!(
                        "a {} event has no name (the data plane looks it up by type alone): leave it empty",
                        event.event_type
                    ),
                ));
            }
            if let Some(first) = first_at[t].insert(&event.name, i) {
                let what = if t == 0 {
                    format!("track event {:?}", event.name)
                } else {
                    format!("{} event", event.event_type)
                };
                return Err(SchemaProblem::new(
                    i,
                    None,
                    format!("events[{first}] is already the {what}: each event once"),
                ));
            }
            let Value::Object(rules) = &event.rules else {
                return Err(SchemaProblem::new(
                    i,
                    Some("rules"),
                    "rules must be a JSON Schema object (over the whole message)",
                ));
            };
            if let Some(problem) = unknown_meta_schema(rules) {
                return Err(SchemaProblem::new(i, Some("rules"), problem));
            }
            let compiled = if rules.is_empty() {
                None
            } else {
                let (schema, draft) = prepared(rules);
                let validator = compile_schema(&schema, draft)
                    .map_err(|message| SchemaProblem::new(i, Some("rules"), message))?;
                Some(EventSchema {
                    validator,
                    rules: schema,
                })
            };
            by_type[t].insert(event.name.clone(), compiled);
        }
        Ok(CompiledPlan { by_type })
    }

    /// The message's violations, as the transformer reports them; none for a type it does not validate.
    pub fn validate(&self, message: &Value) -> Vec<Violation> {
        let Some(t) = message
            .get("type")
            .and_then(Value::as_str)
            .and_then(type_index)
        else {
            return Vec::new();
        };
        // The transformer looks a track event up by `event`, the others by the name ''.
        let name = if t == 0 {
            message.get("event").and_then(Value::as_str)
        } else {
            Some("")
        };
        let schema = name
            .and_then(|n| self.by_type[t].get(n))
            .and_then(Option::as_ref);
        let Some(schema) = schema else {
            if t != 0 {
                return Vec::new();
            }
            return vec![Violation {
                violation_type: UNPLANNED_EVENT.to_string(),
                message: format!("no schema for event: {}", js_string(message.get("event"))),
                property: None,
                meta: Default::default(),
            }];
        };
        if schema.validator.is_valid(message) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut ifs: Vec<IfOwner> = Vec::new();
        for error in schema.validator.iter_errors(message) {
            violations_of(&error, &schema.rules, &mut out, &mut ifs);
        }
        // Ajv reports a failed `then`/`else` twice: the inner errors, then `if` itself.
        for owner in ifs {
            out.push(violation(
                ADVANCE_RULES_VIOLATION,
                format!("must match \"{}\" schema", owner.clause),
                None,
                owner.instance_path,
                format!("{}/if", owner.schema_path),
            ));
        }
        out
    }
}

/// How JavaScript's template strings print a value (`no schema for event: ${event.message.event}`).
fn js_string(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => js_number(n),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                v => js_string(Some(v)),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(_)) => "[object Object]".to_string(),
        Some(v) => v.to_string(),
    }
}

/// Rust prints whole floats without `.0`, as JavaScript does: `5.0` → `5`.
fn js_number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if !n.is_i64() && !n.is_u64() => f.to_string(),
        _ => n.to_string(),
    }
}

fn js_value(value: &Value) -> String {
    match value {
        Value::Number(n) => js_number(n),
        v => js_string(Some(v)),
    }
}

fn violation(
    violation_type: &str,
    message: String,
    property: Option<String>,
    instance_path: String,
    schema_path: String,
) -> Violation {
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("instancePath".to_string(), instance_path);
    meta.insert("schemaPath".to_string(), schema_path);
    Violation {
        violation_type: violation_type.to_string(),
        message,
        property,
        meta,
    }
}

/// A `then`/`else` that failed, under the schema object holding its `if`.
#[derive(PartialEq)]
struct IfOwner {
    schema_path: String,
    instance_path: String,
    clause: &'static str,
}

/// Where an error's keyword is, in Ajv's terms.
struct Located<'s> {
    /// `#/properties/properties/required`: segments URI-encoded, `$ref`s replaced by their target as written.
    schema_path: String,
    /// The schema object holding the keyword, and the keyword's value, when they could be resolved.
    owner: Option<&'s Value>,
    value: Option<&'s Value>,
    /// The last keyword and, for keywords holding named subschemas, the name.
    keyword: String,
    name: Option<String>,
}

/// Keywords whose value maps names to subschemas.
const NAMED: [&str; 6] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];
/// Keywords whose value is a list of subschemas (`items` too, when it is an array).
const LISTED: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords (and named/listed ones) that descend one level into the instance.
const DESCENDING: [&str; 8] = [
    "properties",
    "patternProperties",
    "additionalProperties",
    "unevaluatedProperties",
    "items",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
];

fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// JavaScript's `encodeURIComponent`, which Ajv applies to each schema path segment (`escapeFragment`).
fn encode_uri_component(segment: &str, out: &mut String) {
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Walks the validator's schema location alongside the schema, rewriting it into Ajv's schema path and
/// noting each `if` whose `then`/`else` the error is under.
fn locate<'s>(
    location: &str,
    instance_path: &str,
    root: &'s Value,
    ifs: &mut Vec<IfOwner>,
) -> Located<'s> {
    let instance: Vec<&str> = instance_path.split('/').skip(1).collect();
    let mut depth = 0usize;
    let mut path = String::from("#");
    let mut node: Option<&'s Value> = Some(root);
    let mut owner: Option<&'s Value> = None;
    let mut value: Option<&'s Value> = None;
    let mut keyword = String::new();
    let mut name = None;
    let mut segments = location.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        let key = unescape_pointer(segment);
        if key == "$ref" {
            match node.and_then(|n| n.get("$ref")).and_then(Value::as_str) {
                // Ajv reports errors under a local `$ref` at the target, with the reference as written.
                Some(target) if target.starts_with('#') => {
                    path = target.to_string();
                    node = root.pointer(&percent_decode(&target[1..]));
                }
                _ => {
                    path.push_str("/$ref");
                    node = None;
                }
            }
            continue;
        }
        owner = node;
        value = node.and_then(|n| n.get(&key));
        path.push('/');
        encode_uri_component(segment, &mut path);
        keyword = key;
        name = None;
        if DESCENDING.contains(&keyword.as_str()) {
            depth += 1;
        }
        let listed = LISTED.contains(&keyword.as_str())
            || (keyword == "items" && matches!(value, Some(Value::Array(_))));
        if NAMED.contains(&keyword.as_str()) || listed {
            let Some(next) = segments.next() else { break };
            let child = unescape_pointer(next);
            // Ajv reports `dependentRequired` (and draft-04 `dependencies` lists) at the keyword.
            let list_of_names =
                matches!(value.and_then(|v| v.get(&child)), Some(Value::Array(_))) && !listed;
            if list_of_names {
                name = Some(child);
                break;
            }
            path.push('/');
            encode_uri_component(next, &mut path);
            node = if listed {
                child
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| value.and_then(|v| v.get(i)))
            } else {
                value.and_then(|v| v.get(&child))
            };
            name = Some(child);
        } else if keyword == "dependentRequired" {
            name = segments.next().map(unescape_pointer);
            break;
        } else if ["then", "else"].contains(&keyword.as_str()) {
            if owner.is_some_and(|o| o.get("if").is_some()) {
                let prefix = &path[..path.len() - keyword.len() - 1];
                let found = IfOwner {
                    schema_path: prefix.to_string(),
                    instance_path: instance
                        .iter()
                        .take(depth)
                        .fold(String::new(), |acc, s| acc + "/" + s),
                    clause: if keyword == "then" { "then" } else { "else" },
                };
                if !ifs.contains(&found) {
                    ifs.push(found);
                }
            }
            node = value;
        } else if matches!(
            keyword.as_str(),
            "not"
                | "if"
                | "items"
                | "additionalItems"
                | "additionalProperties"
                | "unevaluatedItems"
                | "unevaluatedProperties"
                | "contains"
                | "propertyNames"
        ) && segments.peek().is_some()
        {
            node = value;
        } else {
            // A keyword that fails by itself (`type`, `required`…): the rest, if any, is not schema.
            for rest in segments.by_ref() {
                path.push('/');
                encode_uri_component(rest, &mut path);
            }
        }
    }
    Located {
        schema_path: path,
        owner,
        value,
        keyword,
        name,
    }
}

/// JSON equality as JavaScript sees it (`1` and `1.0` are one number), for `uniqueItems`' indices.
fn js_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| js_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| js_equal(v, w)))
        }
        _ => a == b,
    }
}

fn json_type_names(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match (value, t) {
        (Value::Null, "null") | (Value::Bool(_), "boolean") | (Value::String(_), "string") => true,
        (Value::Number(_), "number") => true,
        (Value::Number(n), "integer") => n.as_f64().is_some_and(|f| f.fract() == 0.0),
        (Value::Array(_), "array") | (Value::Object(_), "object") => true,
        _ => false,
    }
}

/// The indices Ajv names in `must NOT have duplicate items (items ## j and i are identical)`: it scans from
/// the end, with an index of seen values when `items` declares only scalar types (then `j` is the later
/// index), pairwise otherwise (then `j` is the earlier one).
fn duplicate_indices(items: &[Value], owner: Option<&Value>) -> (usize, usize) {
    let item_types = owner
        .and_then(|o| o.get("items"))
        .and_then(|i| i.get("type"))
        .map(json_type_names)
        .unwrap_or_default();
    let optimized =
        !item_types.is_empty() && !item_types.iter().any(|t| t == "object" || t == "array");
    if optimized {
        let mut seen: Vec<usize> = Vec::new();
        for i in (0..items.len()).rev() {
            if !item_types.iter().any(|t| has_type(&items[i], t)) {
                continue;
            }
            if let Some(&j) = seen.iter().find(|&&j| js_equal(&items[j], &items[i])) {
                return (j, i);
            }
            seen.push(i);
        }
    } else {
        for i in (0..items.len()).rev() {
            for j in (0..i).rev() {
                if js_equal(&items[i], &items[j]) {
                    return (j, i);
                }
            }
        }
    }
    (0, 0)
}

fn limit_text(located: &Located<'_>, fallback: impl fmt::Display) -> String {
    match located.value {
        Some(v @ Value::Number(_)) => js_value(v),
        _ => fallback.to_string(),
    }
}

fn type_text(located: &Located<'_>, kind: &TypeKind) -> String {
    if let Some(v) = located.value {
        let names = json_type_names(v);
        if !names.is_empty() {
            // Ajv's message is `must be ${schema}`: an array prints joined by commas.
            return names.join(",");
        }
    }
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// The violations Ajv would report for one of the validator's errors (several for additional properties:
/// Ajv reports each one).
fn violations_of(
    error: &ValidationError<'_>,
    rules: &Value,
    out: &mut Vec<Violation>,
    ifs: &mut Vec<IfOwner>,
) {
    let instance_path = error.instance_path.as_str().to_string();
    let located = locate(error.schema_path.as_str(), &instance_path, rules, ifs);
    let at = |t: &str, message: String, property: Option<String>| {
        violation(
            t,
            message,
            property,
            instance_path.clone(),
            located.schema_path.clone(),
        )
    };
    let advance = |message: String| at(ADVANCE_RULES_VIOLATION, message, None);
    let unknown = |message: String| at(UNKNOWN_VIOLATION, message, None);
    let v = match &error.kind {
        ValidationErrorKind::Required { property }
            if located.keyword == "dependentRequired" || located.keyword == "dependencies" =>
        {
            let missing = js_string(Some(property));
            // The validator's location stops at the keyword: the dependent property is the present one
            // whose list names the missing one.
            let present = located.name.clone().or_else(|| {
                let map = located.value?.as_object()?;
                let instance = error.instance.as_object()?;
                map.iter()
                    .find(|(k, deps)| {
                        instance.contains_key(*k) && json_type_names(deps).contains(&missing)
                    })
                    .map(|(k, _)| k.clone())
            });
            let deps = present
                .as_deref()
                .and_then(|n| located.value.and_then(|v| v.get(n)))
                .map(json_type_names)
                .unwrap_or_else(|| vec![missing.clone()]);
            let noun = if deps.len() == 1 {
                "property"
            } else {
                "properties"
            };
            unknown(format!(
                "must have {noun} {} when property {} is present",
                deps.join(", "),
                present.unwrap_or_default()
            ))
        }
        ValidationErrorKind::Required { property } => {
            let name = js_string(Some(property));
            at(
                REQUIRED_MISSING,
                format!("must have required property '{name}'"),
                Some(name),
            )
        }
        ValidationErrorKind::Type { kind } => at(
            DATATYPE_MISMATCH,
            format!("must be {}", type_text(&located, kind)),
            None,
        ),
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let what = if matches!(error.kind, ValidationErrorKind::AdditionalProperties { .. }) {
                "additional"
            } else {
                "unevaluated"
            };
            for name in unexpected {
                // The transformer appends the property's name to Ajv's message.
                out.push(at(
                    ADDITIONAL_PROPERTIES,
                    format!("must NOT have {what} properties '{name}'"),
                    Some(name.clone()),
                ));
            }
            return;
        }
        ValidationErrorKind::MinLength { limit } => advance(format!(
            "must NOT have fewer than {} characters",
            limit_text(&located, limit)
        )),
        ValidationErrorKind::MaxLength { limit } => advance(format!(
            "must NOT have more than {} characters",
            limit_text(&located, limit)
        )),
        ValidationErrorKind::Pattern { pattern } => {
            advance(format!("must match pattern \"{pattern}\""))
        }
        ValidationErrorKind::Format { format } => {
            advance(format!("must match format \"{format}\""))
        }
        ValidationErrorKind::MultipleOf { multiple_of } => advance(format!(
            "must be multiple of {}",
            limit_text(&located, multiple_of)
        )),
        // Draft-04's boolean `exclusiveMinimum` is reported at `minimum`; the limit is the kind's.
        ValidationErrorKind::Minimum { limit } => {
            advance(format!("must be >= {}", js_value(limit)))
        }
        ValidationErrorKind::Maximum { limit } => {
            advance(format!("must be <= {}", js_value(limit)))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            advance(format!("must be > {}", js_value(limit)))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            advance(format!("must be < {}", js_value(limit)))
        }
        ValidationErrorKind::MinItems { limit } => advance(format!(
            "must NOT have fewer than {} items",
            limit_text(&located, limit)
        )),
        ValidationErrorKind::MaxItems { limit } => advance(format!(
            "must NOT have more than {} items",
            limit_text(&located, limit)
        )),
        ValidationErrorKind::UniqueItems => {
            let items = error.instance.as_array().map(Vec::as_slice).unwrap_or(&[]);
            let (j, i) = duplicate_indices(items, located.owner);
            advance(format!(
                "must NOT have duplicate items (items ## {j} and {i} are identical)"
            ))
        }
        ValidationErrorKind::Enum { .. } => {
            advance("must be equal to one of the allowed values".to_string())
        }
        ValidationErrorKind::Constant { .. } => unknown("must be equal to constant".to_string()),
        ValidationErrorKind::AnyOf => unknown("must match a schema in anyOf".to_string()),
        ValidationErrorKind::OneOfNotValid | ValidationErrorKind::OneOfMultipleValid => {
            unknown("must match exactly one schema in oneOf".to_string())
        }
        ValidationErrorKind::Not { .. } => unknown("must NOT be valid".to_string()),
        ValidationErrorKind::FalseSchema => unknown("boolean schema is false".to_string()),
        ValidationErrorKind::MinProperties { limit } => unknown(format!(
            "must NOT have fewer than {} properties",
            limit_text(&located, limit)
        )),
        ValidationErrorKind::MaxProperties { limit } => unknown(format!(
            "must NOT have more than {} properties",
            limit_text(&located, limit)
        )),
        ValidationErrorKind::AdditionalItems { limit } => {
            unknown(format!("must NOT have more than {limit} items"))
        }
        ValidationErrorKind::UnevaluatedItems { .. } => {
            let len = located
                .owner
                .and_then(|o| o.get("items").or_else(|| o.get("prefixItems")))
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            unknown(format!("must NOT have more than {len} items"))
        }
        ValidationErrorKind::Contains => {
            let owner = located.owner;
            let min = owner
                .and_then(|o| o.get("minContains"))
                .map_or_else(|| "1".to_string(), js_value);
            match owner.and_then(|o| o.get("maxContains")) {
                Some(max) => unknown(format!(
                    "must contain at least {min} and no more than {} valid item(s)",
                    js_value(max)
                )),
                None => unknown(format!("must contain at least {min} valid item(s)")),
            }
        }
        ValidationErrorKind::PropertyNames { .. } => {
            unknown("property name must be valid".to_string())
        }
        // Kinds with no Ajv counterpart (content encoding, regex limits…) keep the validator's wording.
        _ => unknown(error.to_string()),
    };
    out.push(v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const _: fn() = || {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<CompiledPlan>();
    };

    fn event(event_type: &str, name: &str, rules: Value) -> PlanEvent {
        PlanEvent {
            name: name.to_string(),
            event_type: event_type.to_string(),
            description: None,
            rules,
        }
    }

    fn track_schema(properties: Value) -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "type": "object",
            "properties": {"properties": properties},
        })
    }

    fn order_plan() -> CompiledPlan {
        CompiledPlan::compile(&[
            event(
                "track",
                "Order Completed",
                track_schema(json!({
                    "type": "object",
                    "properties": {
                        "price": {"type": "number", "minimum": 0, "multipleOf": 0.5},
                        "currency": {"type": "string", "enum": ["EUR", "USD"]},
                        "coupon": {"type": "string", "pattern": "^a", "minLength": 3, "maxLength": 5},
                        "sku": {"type": ["string", "null"], "format": "uuid"},
                        "tags": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": true, "items": {"type": "string"}},
                        "count": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10, "maximum": 9},
                        "kind": {"const": "x"},
                        "Order Total": {"type": "number"},
                        "shipping": {"type": "object", "if": {"properties": {"express": {"const": true}}, "required": ["express"]}, "then": {"required": ["carrier"]}},
                    },
                    "required": ["price"],
                    "additionalProperties": false,
                })),
            ),
            event(
                "identify",
                "",
                json!({
                    "type": "object",
                    "properties": {"traits": {"type": "object", "properties": {"email": {"type": "string"}}, "unevaluatedProperties": false}},
                }),
            ),
        ])
        .expect("compiles")
    }

    fn with_defs() -> CompiledPlan {
        let mut rules = track_schema(json!({
            "type": "object",
            "properties": {"ref": {"$ref": "#/$defs/amount"}},
        }));
        rules["$defs"] = json!({"amount": {"type": "number"}});
        CompiledPlan::compile(&[event("track", "Refd", rules)]).expect("compiles")
    }

    fn track(name: &str, properties: Value) -> Value {
        json!({"type": "track", "event": name, "properties": properties})
    }

    fn meta(instance: &str, schema: &str) -> std::collections::BTreeMap<String, String> {
        [
            ("instancePath".to_string(), instance.to_string()),
            ("schemaPath".to_string(), schema.to_string()),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn violations_are_classified_worded_and_located_as_ajv_and_the_transformer_do() {
        let plan = order_plan();
        let p = "#/properties/properties";
        // (message, [(type, property, message, instancePath, schemaPath)])
        type Expected<'a> = (&'a str, Option<&'a str>, String, &'a str, String);
        let cases: Vec<(Value, Vec<Expected>)> = vec![
            (track("Order Completed", json!({"price": 1})), vec![]),
            (
                track("Order Completed", json!({})),
                vec![(
                    REQUIRED_MISSING,
                    Some("price"),
                    "must have required property 'price'".into(),
                    "/properties",
                    format!("{p}/required"),
                )],
            ),
            (
                track("Order Completed", json!({"price": "1"})),
                vec![(
                    DATATYPE_MISMATCH,
                    None,
                    "must be number".into(),
                    "/properties/price",
                    format!("{p}/properties/price/type"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1, "sku": 5})),
                vec![(
                    DATATYPE_MISMATCH,
                    None,
                    "must be string,null".into(),
                    "/properties/sku",
                    format!("{p}/properties/sku/type"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1, "extra": 1})),
                vec![(
                    ADDITIONAL_PROPERTIES,
                    Some("extra"),
                    "must NOT have additional properties 'extra'".into(),
                    "/properties",
                    format!("{p}/additionalProperties"),
                )],
            ),
            (
                track("Order Completed", json!({"price": -1})),
                vec![(
                    ADVANCE_RULES_VIOLATION,
                    None,
                    "must be >= 0".into(),
                    "/properties/price",
                    format!("{p}/properties/price/minimum"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1.25})),
                vec![(
                    ADVANCE_RULES_VIOLATION,
                    None,
                    "must be multiple of 0.5".into(),
                    "/properties/price",
                    format!("{p}/properties/price/multipleOf"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1, "currency": "GBP"})),
                vec![(
                    ADVANCE_RULES_VIOLATION,
                    None,
                    "must be equal to one of the allowed values".into(),
                    "/properties/currency",
                    format!("{p}/properties/currency/enum"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1, "coupon": "bb"})),
                vec![
                    (
                        ADVANCE_RULES_VIOLATION,
                        None,
                        "must match pattern \"^a\"".into(),
                        "/properties/coupon",
                        format!("{p}/properties/coupon/pattern"),
                    ),
                    (
                        ADVANCE_RULES_VIOLATION,
                        None,
                        "must NOT have fewer than 3 characters".into(),
                        "/properties/coupon",
                        format!("{p}/properties/coupon/minLength"),
                    ),
                ],
            ),
            (
                track("Order Completed", json!({"price": 1, "coupon": "abcdef"})),
                vec![(
                    ADVANCE_RULES_VIOLATION,
                    None,
                    "must NOT have more than 5 characters".into(),
                    "/properties/coupon",
                    format!("{p}/properties/coupon/maxLength"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1, "sku": "not-a-uuid"})),
                vec![(
                    ADVANCE_RULES_VIOLATION,
                    None,
                    "must match format \"uuid\"".into(),
                    "/properties/sku",
                    format!("{p}/properties/sku/format"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1, "tags": []})),
                vec![(
                    ADVANCE_RULES_VIOLATION,
                    None,
                    "must NOT have fewer than 1 items".into(),
                    "/properties/tags",
                    format!("{p}/properties/tags/minItems"),
                )],
            ),
            (
                track(
                    "Order Completed",
                    json!({"price": 1, "tags": ["a", "b", "a"]}),
                ),
                vec![
                    (
                        ADVANCE_RULES_VIOLATION,
                        None,
                        "must NOT have more than 2 items".into(),
                        "/properties/tags",
                        format!("{p}/properties/tags/maxItems"),
                    ),
                    (
                        ADVANCE_RULES_VIOLATION,
                        None,
                        "must NOT have duplicate items (items ## 2 and 0 are identical)".into(),
                        "/properties/tags",
                        format!("{p}/properties/tags/uniqueItems"),
                    ),
                ],
            ),
            (
                track("Order Completed", json!({"price": 1, "count": 0})),
                vec![(
                    ADVANCE_RULES_VIOLATION,
                    None,
                    "must be > 0".into(),
                    "/properties/count",
                    format!("{p}/properties/count/exclusiveMinimum"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1, "count": 10})),
                vec![
                    (
                        ADVANCE_RULES_VIOLATION,
                        None,
                        "must be < 10".into(),
                        "/properties/count",
                        format!("{p}/properties/count/exclusiveMaximum"),
                    ),
                    (
                        ADVANCE_RULES_VIOLATION,
                        None,
                        "must be <= 9".into(),
                        "/properties/count",
                        format!("{p}/properties/count/maximum"),
                    ),
                ],
            ),
            (
                track("Order Completed", json!({"price": 1, "kind": "y"})),
                vec![(
                    UNKNOWN_VIOLATION,
                    None,
                    "must be equal to constant".into(),
                    "/properties/kind",
                    format!("{p}/properties/kind/const"),
                )],
            ),
            (
                track("Order Completed", json!({"price": 1, "Order Total": "x"})),
                vec![(
                    DATATYPE_MISMATCH,
                    None,
                    "must be number".into(),
                    "/properties/Order Total",
                    format!("{p}/properties/Order%20Total/type"),
                )],
            ),
            (
                track(
                    "Order Completed",
                    json!({"price": 1, "shipping": {"express": true}}),
                ),
                vec![
                    (
                        REQUIRED_MISSING,
                        Some("carrier"),
                        "must have required property 'carrier'".into(),
                        "/properties/shipping",
                        format!("{p}/properties/shipping/then/required"),
                    ),
                    (
                        ADVANCE_RULES_VIOLATION,
                        None,
                        "must match \"then\" schema".into(),
                        "/properties/shipping",
                        format!("{p}/properties/shipping/if"),
                    ),
                ],
            ),
            (
                json!({"type": "identify", "traits": {"email": "a@b.c", "age": 3}}),
                vec![(
                    ADDITIONAL_PROPERTIES,
                    Some("age"),
                    "must NOT have unevaluated properties 'age'".into(),
                    "/traits",
                    "#/properties/traits/unevaluatedProperties".into(),
                )],
            ),
            (track("Signed Up", json!({})), vec![]),
        ];
        for (message, expected) in cases {
            let mut got = plan.validate(&message);
            let mut want: Vec<Violation> = expected
                .into_iter()
                .map(|(t, property, text, instance, schema)| Violation {
                    violation_type: t.to_string(),
                    message: text,
                    property: property.map(str::to_string),
                    meta: meta(instance, &schema),
                })
                .collect();
            if message["event"] == "Signed Up" {
                want.push(Violation {
                    violation_type: UNPLANNED_EVENT.to_string(),
                    message: "no schema for event: Signed Up".to_string(),
                    property: None,
                    meta: Default::default(),
                });
            }
            // Ajv's order among one object's keywords is its own; what matters is the set.
            let key = |v: &Violation| (v.meta.get("schemaPath").cloned(), v.message.clone());
            got.sort_by_key(key);
            want.sort_by_key(key);
            assert_eq!(got, want, "for {message}");
        }
    }

    #[test]
    fn a_local_ref_is_reported_at_its_target() {
        let plan = with_defs();
        let got = plan.validate(&track("Refd", json!({"ref": "x"})));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].violation_type, DATATYPE_MISMATCH);
        assert_eq!(got[0].meta["schemaPath"], "#/$defs/amount/type");
        assert_eq!(got[0].meta["instancePath"], "/properties/ref");
    }

    #[test]
    fn only_the_five_types_are_validated_and_only_track_can_be_unplanned() {
        let plan = order_plan();
        assert!(plan
            .validate(&json!({"type": "alias", "userId": "u"}))
            .is_empty());
        assert!(plan
            .validate(&json!({"type": "page", "properties": {}}))
            .is_empty());
        assert!(plan
            .validate(&json!({"type": "group", "traits": {}}))
            .is_empty());
        assert!(plan.validate(&json!({"properties": {}})).is_empty());
        let unplanned = plan.validate(&json!({"type": "track", "properties": {}}));
        assert_eq!(unplanned.len(), 1);
        assert_eq!(unplanned[0].message, "no schema for event: undefined");
        assert_eq!(unplanned[0].property, None);
        assert!(unplanned[0].meta.is_empty());
        // Empty rules: the transformer finds `{}` and treats it as no schema.
        let plan = CompiledPlan::compile(&[event("track", "Empty", json!({}))]).unwrap();
        let got = plan.validate(&track("Empty", json!({})));
        assert_eq!(got[0].violation_type, UNPLANNED_EVENT);
    }

    #[test]
    fn draft_04_is_chosen_by_schema_and_2019_09_otherwise() {
        let draft4 = json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "properties": {"properties": {"properties": {"n": {"type": "number", "maximum": 5, "exclusiveMaximum": true}}}},
        });
        let plan = CompiledPlan::compile(&[event("track", "A", draft4)]).unwrap();
        let got = plan.validate(&track("A", json!({"n": 5})));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].violation_type, ADVANCE_RULES_VIOLATION);
        assert_eq!(got[0].message, "must be < 5");
        // The same boolean is not a valid 2019-09 schema.
        let draft2019 = json!({
            "properties": {"properties": {"properties": {"n": {"type": "number", "maximum": 5, "exclusiveMaximum": true}}}},
        });
        let problem = CompiledPlan::compile(&[event("track", "A", draft2019)])
            .err()
            .unwrap();
        assert_eq!(problem.field(), "events[0].rules");
        // And 2019-09 keywords work without `$schema`.
        let plan = CompiledPlan::compile(&[event(
            "track",
            "A",
            json!({"properties": {"properties": {"dependentRequired": {"a": ["b"]}}}}),
        )])
        .unwrap();
        let got = plan.validate(&track("A", json!({"a": 1})));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].violation_type, UNKNOWN_VIOLATION);
        assert_eq!(
            got[0].message,
            "must have property b when property a is present"
        );
        assert_eq!(
            got[0].meta["schemaPath"],
            "#/properties/properties/dependentRequired"
        );
    }

    #[test]
    fn draft_06_and_07_schemas_are_validated_like_2019_09() {
        for meta in [
            "http://json-schema.org/draft-07/schema#",
            "http://json-schema.org/draft-06/schema#",
            "http://json-schema.org/draft-07/schema",
        ] {
            let rules = json!({
                "$schema": meta,
                "type": "object",
                "properties": {"properties": {"type": "object",
                    "properties": {"price": {"type": "number"}}, "required": ["price"]}},
            });
            let plan = CompiledPlan::compile(&[event("track", "A", rules)]).unwrap();
            let got = plan.validate(&track("A", json!({"price": "1"})));
            assert_eq!(got.len(), 1, "{meta}: {got:?}");
            assert_eq!(got[0].violation_type, DATATYPE_MISMATCH, "{meta}");
            assert_eq!(got[0].meta["instancePath"], "/properties/price");
            let got = plan.validate(&track("A", json!({})));
            assert_eq!(got.len(), 1, "{meta}: {got:?}");
            assert!(plan.validate(&track("A", json!({"price": 1}))).is_empty());
        }
    }

    #[test]
    fn an_invalid_pattern_is_refused_when_saved() {
        for rules in [
            json!({"properties": {"properties": {"properties": {"sku": {"type": "string", "pattern": "([a-f"}}}}}),
            json!({"properties": {"properties": {"patternProperties": {"([a-f": {"type": "string"}}}}}),
        ] {
            let problem = CompiledPlan::compile(&[event("track", "A", rules.clone())])
                .err()
                .unwrap_or_else(|| panic!("{rules} should not compile"));
            assert_eq!(problem.field(), "events[0].rules");
        }
    }

    #[test]
    fn a_top_level_version_is_removed_before_compiling() {
        // `version` is no keyword; a non-object one would still be harmless, but the transformer drops it,
        // and so a schema relying on it being absent (`additionalProperties` at the top) behaves the same.
        let rules =
            json!({"version": 3, "type": "object", "properties": {"traits": {"type": "object"}}});
        let plan = CompiledPlan::compile(&[event("identify", "", rules)]).unwrap();
        let schema = plan.by_type[1][""].as_ref().unwrap();
        assert!(schema.rules.get("version").is_none());
        assert!(schema.rules.get("properties").is_some());
        let got = plan.validate(&json!({"type": "identify", "traits": 1}));
        assert_eq!(got[0].meta["schemaPath"], "#/properties/traits/type");
        // Only a `version` made of rules alone: planned, and everything passes.
        let plan = CompiledPlan::compile(&[event("track", "V", json!({"version": 1}))]).unwrap();
        assert!(plan.validate(&track("V", json!({"x": 1}))).is_empty());
    }

    #[test]
    fn every_schema_problem_names_its_field() {
        let ok = || json!({"type": "object"});
        let cases: Vec<(Vec<PlanEvent>, &str, &str)> = vec![
            (
                vec![event("alias", "", ok())],
                "events[0].eventType",
                "eventType must be one of",
            ),
            (
                vec![event("Track", "A", ok())],
                "events[0].eventType",
                "eventType must be one of",
            ),
            (
                vec![event("track", "", ok())],
                "events[0].name",
                "needs a name",
            ),
            (
                vec![event("identify", "x", ok())],
                "events[0].name",
                "has no name",
            ),
            (
                vec![event("track", "A", ok()), event("track", "A", ok())],
                "events[1]",
                "events[0] is already",
            ),
            (
                vec![event("page", "", ok()), event("page", "", ok())],
                "events[1]",
                "events[0] is already the page event",
            ),
            (
                vec![event("track", "A", json!([]))],
                "events[0].rules",
                "must be a JSON Schema object",
            ),
            (
                vec![event(
                    "track",
                    "A",
                    json!({"$schema": "https://json-schema.org/draft/2020-12/schema"}),
                )],
                "events[0].rules",
                "/$schema: ",
            ),
            (
                vec![event(
                    "track",
                    "A",
                    json!({"$schema": "http://json-schema.org/draft-04/schema#", "required": []}),
                )],
                "events[0].rules",
                "/required: ",
            ),
            (
                vec![event("track", "A", json!("x"))],
                "events[0].rules",
                "must be a JSON Schema object",
            ),
            (
                vec![
                    event("track", "A", ok()),
                    event(
                        "track",
                        "B",
                        track_schema(json!({"properties": {"price": {"type": "nubmer"}}})),
                    ),
                ],
                "events[1].rules",
                "/properties/properties/properties/price/type: ",
            ),
            (
                vec![event(
                    "track",
                    "A",
                    json!({"properties": {"x": {"pattern": "(["}}}),
                )],
                "events[0].rules",
                "",
            ),
            (
                vec![event(
                    "track",
                    "A",
                    json!({"properties": {"x": {"$ref": "https://example.com/s.json"}}}),
                )],
                "events[0].rules",
                "",
            ),
            (
                vec![event(
                    "track",
                    "A",
                    json!({"properties": {"x": {"$ref": "#/$defs/missing"}}}),
                )],
                "events[0].rules",
                "",
            ),
        ];
        for (events, field, message) in cases {
            let problem = CompiledPlan::compile(&events)
                .err()
                .unwrap_or_else(|| panic!("{events:?} should not compile"));
            assert_eq!(problem.field(), field, "{problem}");
            assert!(problem.to_string().contains(message), "{problem}");
        }
        for known in [
            "http://json-schema.org/draft-04/schema#",
            "http://json-schema.org/draft-06/schema#",
            "http://json-schema.org/draft-07/schema",
            "https://json-schema.org/draft/2019-09/schema",
        ] {
            CompiledPlan::compile(&[event("track", "A", json!({"$schema": known}))]).unwrap();
        }
        // The same name under two types is two events.
        CompiledPlan::compile(&[event("track", "A", ok()), event("page", "", ok())]).unwrap();
    }
}
