//! Checking one event against a plan: paste a message as an SDK sends it, choose the draft or a published
//! version, and see each violation beside the property it is about (`POST …/tracking-plans/{tp}/validate`).
//!
//! The event is shown pretty-printed, one row per line, with the JSON pointer of the value each line opens;
//! a violation's location (`meta.instancePath`, and `property` when it names a key under it) picks the row.
//! Violations about the whole event (an unplanned event, a missing top-level field) are listed above it.
//!
//! Also what the impact and violation views share: the violation types' colours and names, the version
//! picker, and when they may read their data.

use leptos::either::Either;
use leptos::prelude::*;
use serde_json::Value;

use crate::api::tracking_plans::{ValidateRequest, ValidationResult, Violation};
use crate::api::{use_api, ApiError};

/// What the event box holds at first: an order as the JavaScript SDK sends it.
pub const EXAMPLE_EVENT: &str = r#"{
  "type": "track",
  "event": "Order Completed",
  "userId": "user-1042",
  "anonymousId": "8d872292-709c-4fbe-9a5b-1b4c6f1a2e3d",
  "properties": {
    "order_id": "50314b8e9bcf000000000000",
    "revenue": 25.5,
    "currency": "USD",
    "coupon": "WINTER10",
    "products": [
      {
        "product_id": "507f1f77bcf86cd799439011",
        "name": "Monopoly: 3rd Edition",
        "price": 19,
        "quantity": 1
      }
    ]
  },
  "context": {
    "library": { "name": "RudderLabs JavaScript SDK", "version": "3.34.1" },
    "page": { "path": "/checkout/complete", "url": "https://shop.example.com/checkout/complete" }
  },
  "originalTimestamp": "2026-11-28T10:15:30.000Z"
}"#;

/// The violation types rudder-transformer reports (`../shared/reference/rudderstack-protocol.md` §3.4), with
/// the class that colours them and what they mean.
const TYPES: [(&str, &str, &str); 6] = [
    (
        "Unplanned-Event",
        "vt-unplanned",
        "The plan has no rules for this event.",
    ),
    (
        "Required-Missing",
        "vt-required",
        "A property the plan requires is missing.",
    ),
    (
        "Datatype-Mismatch",
        "vt-datatype",
        "A value has another type than the plan says.",
    ),
    (
        "Additional-Properties",
        "vt-additional",
        "A property the plan does not name.",
    ),
    (
        "Advance-Rules-Violation",
        "vt-advanced",
        "A value breaks a rule: length, pattern, format, range or allowed values.",
    ),
    (
        "Unknown-Violation",
        "vt-unknown",
        "Any other violation of the plan's rules.",
    ),
];

/// The class that colours a violation type (`vt-…`; an unknown type as `Unknown-Violation`).
pub fn type_class(violation_type: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(name, _, _)| *name == violation_type)
        .map_or("vt-unknown", |(_, class, _)| class)
}

/// What a violation type means, for a tooltip.
pub fn type_help(violation_type: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(name, _, _)| *name == violation_type)
        .map_or("", |(_, _, help)| help)
}

/// A violation type as a coloured badge.
pub fn type_badge(violation_type: String) -> impl IntoView {
    let class = format!("vt-badge {}", type_class(&violation_type));
    let help = type_help(&violation_type);
    view! { <span class=class title=help>{violation_type}</span> }
}

/// The versions a preview can run against: the draft (`None`), then each published version, newest first.
#[component]
pub fn VersionSelect(
    latest_version: Option<i64>,
    version: RwSignal<Option<i64>>,
    test_id: &'static str,
) -> impl IntoView {
    let options = (1..=latest_version.unwrap_or(0)).rev().map(|n| {
        let label = if Some(n) == latest_version {
            format!("Version {n} (latest)")
        } else {
            format!("Version {n}")
        };
        view! { <option value=n.to_string() selected=move || version.get() == Some(n)>{label}</option> }
    });
    view! {
        <label class="field inline">
            <span class="label">"Against"</span>
            <select data-testid=test_id on:change=move |ev| version.set(event_target_value(&ev).parse().ok())>
                <option value="" selected=move || version.get().is_none()>"Draft (unpublished)"</option>
                {options.collect_view()}
            </select>
        </label>
    }
}

pub use crate::components::use_hydrated;

/// Which plan a result was checked against, for people.
pub fn against(version: Option<i64>) -> String {
    match version {
        Some(n) => format!("version {n}"),
        None => "the draft".to_owned(),
    }
}

/// One line of a pretty-printed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonLine {
    pub text: String,
    /// The JSON pointer of the value this line holds or opens (`/properties/revenue`); `None` for a closing
    /// bracket.
    pub path: Option<String>,
}

/// `value` pretty-printed as `serde_json::to_string_pretty` does (two spaces, keys in their order), one
/// entry per line, each with the pointer of its value.
pub fn json_lines(value: &Value) -> Vec<JsonLine> {
    let mut lines = Vec::new();
    push_value(&mut lines, value, 0, String::new(), String::new(), false);
    lines
}

fn push_value(
    lines: &mut Vec<JsonLine>,
    value: &Value,
    depth: usize,
    label: String,
    path: String,
    comma: bool,
) {
    let indent = "  ".repeat(depth);
    let comma = if comma { "," } else { "" };
    let (open, close, children): (&str, &str, Vec<(String, &Value, String)>) = match value {
        Value::Object(map) if !map.is_empty() => (
            "{",
            "}",
            map.iter()
                .map(|(key, child)| {
                    (
                        format!("{}: ", Value::String(key.clone())),
                        child,
                        format!("{path}/{}", pointer_escape(key)),
                    )
                })
                .collect(),
        ),
        Value::Array(items) if !items.is_empty() => (
            "[",
            "]",
            items
                .iter()
                .enumerate()
                .map(|(i, child)| (String::new(), child, format!("{path}/{i}")))
                .collect(),
        ),
        scalar => {
            lines.push(JsonLine {
                text: format!("{indent}{label}{scalar}{comma}"),
                path: Some(path),
            });
            return;
        }
    };
    lines.push(JsonLine {
        text: format!("{indent}{label}{open}"),
        path: Some(path),
    });
    let last = children.len() - 1;
    for (i, (label, child, path)) in children.into_iter().enumerate() {
        push_value(lines, child, depth + 1, label, path, i < last);
    }
    lines.push(JsonLine {
        text: format!("{indent}{close}{comma}"),
        path: None,
    });
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A location as a JSON pointer: pointers stay, dotted paths (`properties.products[0].price`, Ajv's old
/// `dataPath`) become pointers.
fn to_pointer(location: &str) -> String {
    if location.is_empty() || location.starts_with('/') {
        return location.to_owned();
    }
    location
        .replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|part| !part.is_empty())
        .map(|part| format!("/{}", pointer_escape(part)))
        .collect()
}

/// Where in `event` a violation is: the pointer of the value it is about, or `None` when it is about the
/// whole event (or names nothing the event has). `property` is tried under the instance path first (Ajv's
/// `additionalProperties` names the extra key there), then, when it is a path, from the root; a property that
/// is missing (`required`) leaves the violation on the object that should have had it.
pub fn violation_location(violation: &Violation, event: &Value) -> Option<String> {
    let meta = |key: &str| violation.meta.get(key).map(String::as_str);
    let base = to_pointer(
        meta("instancePath")
            .or_else(|| meta("instacePath"))
            .or_else(|| meta("dataPath"))
            .unwrap_or(""),
    );
    let mut candidates = Vec::new();
    if let Some(property) = violation.property.as_deref().filter(|p| !p.is_empty()) {
        if property.contains(['.', '/', '[']) {
            let path = to_pointer(property);
            candidates.push(format!("{base}{path}"));
            candidates.push(path);
        } else {
            candidates.push(format!("{base}/{}", pointer_escape(property)));
        }
    }
    candidates.push(base);
    candidates
        .into_iter()
        .find(|path| !path.is_empty() && event.pointer(path).is_some())
}

/// `ValidatePreview`'s rows: each line of the event with the violations located on it, and the violations
/// located nowhere.
fn annotate(
    event: &Value,
    violations: &[Violation],
) -> (Vec<(JsonLine, Vec<Violation>)>, Vec<Violation>) {
    let mut rows: Vec<(JsonLine, Vec<Violation>)> = json_lines(event)
        .into_iter()
        .map(|line| (line, Vec::new()))
        .collect();
    let mut whole = Vec::new();
    for violation in violations {
        let row = violation_location(violation, event).and_then(|path| {
            rows.iter_mut()
                .find(|(line, _)| line.path.as_deref() == Some(path.as_str()))
        });
        match row {
            Some((_, on_line)) => on_line.push(violation.clone()),
            None => whole.push(violation.clone()),
        }
    }
    (rows, whole)
}

/// The message an event the box holds cannot be sent with, if any.
fn parse_event(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(event @ Value::Object(_)) => Ok(event),
        Ok(_) => Err("The event must be a JSON object: a message as an SDK sends it, with its type, event name and properties.".into()),
        Err(error) => Err(format!("This is not valid JSON: {error}.")),
    }
}

fn violation_note(violation: Violation) -> impl IntoView {
    let class = format!("vnote {}", type_class(&violation.violation_type));
    view! {
        <div class=class data-testid="violation">
            {type_badge(violation.violation_type.clone())}
            <span class="vnote-message">{violation.message}</span>
        </div>
    }
}

/// Paste an event, choose the draft or a version, validate: the event comes back with each violation beside
/// the line it is about. Viewers may use it (it changes nothing).
#[component]
pub fn ValidatePreview(ws: String, plan_id: String, latest_version: Option<i64>) -> impl IntoView {
    let api = use_api();
    let text = RwSignal::new(EXAMPLE_EVENT.to_owned());
    let version = RwSignal::new(None::<i64>);
    let invalid = RwSignal::new(None::<String>);
    let path = format!("/api/v1/workspaces/{ws}/tracking-plans/{plan_id}/validate");
    let validate = Action::new(move |request: &ValidateRequest| {
        let (event, call) = (
            request.event.clone(),
            api.post::<_, ValidationResult>(path.clone(), request),
        );
        async move { call.await.map(|result| (event, result)) }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match parse_event(&text.get_untracked()) {
            Ok(event) => {
                invalid.set(None);
                validate.dispatch(ValidateRequest {
                    event,
                    version: version.get_untracked(),
                });
            }
            Err(why) => invalid.set(Some(why)),
        }
    };
    let format = move |_| {
        if let Ok(event) = parse_event(&text.get_untracked()) {
            text.set(serde_json::to_string_pretty(&event).unwrap_or_default());
        }
    };
    view! {
        <div class="card" data-testid="validate-preview">
            <div class="card-header">
                <h2>"Check an event"</h2>
                <span class="hint">"Paste a message as an SDK sends it; nothing is stored."</span>
            </div>
            <form class="card-body stack" on:submit=submit>
                <textarea class="code-input" rows="16" spellcheck="false" aria-label="Event (JSON)" data-testid="preview-event"
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                <div class="row wrap">
                    <VersionSelect latest_version=latest_version version=version test_id="preview-version"/>
                    <span class="spacer"></span>
                    <button type="button" class="btn" on:click=format>"Format"</button>
                    <button type="submit" class="btn primary" data-testid="preview-validate" disabled=move || validate.pending().get()>
                        {move || if validate.pending().get() { "Checking…" } else { "Check event" }}
                    </button>
                </div>
                {move || invalid.get().map(|why| view! { <div class="alert error" role="alert" data-testid="preview-invalid">{why}</div> })}
            </form>
            {move || validate.value().get().map(|outcome| match outcome {
                Ok((event, result)) => Either::Left(preview_result(event, result)),
                Err(e) => Either::Right(api_error(e)),
            })}
        </div>
    }
}

fn api_error(error: ApiError) -> impl IntoView {
    view! { <div class="card-body"><div class="alert error" role="alert">{error.message}</div></div> }
}

fn preview_result(event: Value, result: ValidationResult) -> impl IntoView {
    let count = result.violations.len();
    let against = against(result.version);
    if count == 0 {
        return Either::Left(view! {
            <div class="card-body preview-result" data-testid="preview-result">
                <div class="alert success" data-testid="preview-valid">{format!("No violations: this event passes {against}.")}</div>
            </div>
        });
    }
    let (rows, whole) = annotate(&event, &result.violations);
    let summary = format!(
        "{count} violation{} against {against}",
        if count == 1 { "" } else { "s" }
    );
    Either::Right(view! {
        <div class="card-body preview-result stack" data-testid="preview-result">
            <div class="row"><strong data-testid="preview-summary">{summary}</strong></div>
            {(!whole.is_empty()).then(|| view! {
                <div class="whole-event" data-testid="whole-event-violations">
                    <div class="muted small">"About the whole event"</div>
                    {whole.into_iter().map(violation_note).collect_view()}
                </div>
            })}
            <div class="json-annotated" role="table" aria-label="The event, with each violation beside its line">
                {rows.into_iter().enumerate().map(|(i, (line, violations))| {
                    let class = match violations.first() {
                        Some(first) => format!("json-row flagged {}", type_class(&first.violation_type)),
                        None => "json-row".to_owned(),
                    };
                    view! {
                        <div class=class role="row" data-path=line.path.clone()>
                            <span class="json-ln" role="cell">{i + 1}</span>
                            <code class="json-code" role="cell">{line.text}</code>
                            <div class="json-notes" role="cell">{violations.into_iter().map(violation_note).collect_view()}</div>
                        </div>
                    }
                }).collect_view()}
            </div>
        </div>
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn violation(kind: &str, instance_path: &str, property: Option<&str>) -> Violation {
        Violation {
            violation_type: kind.into(),
            message: format!("{kind} at {instance_path}"),
            property: property.map(Into::into),
            meta: BTreeMap::from([
                ("instancePath".to_owned(), instance_path.to_owned()),
                ("schemaPath".to_owned(), "#/properties".to_owned()),
            ]),
        }
    }

    #[test]
    fn lines_are_what_serde_prints_with_the_pointer_of_each_value() {
        let event: Value = serde_json::from_str(EXAMPLE_EVENT).unwrap();
        let lines = json_lines(&event);
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            text.join("\n"),
            serde_json::to_string_pretty(&event).unwrap()
        );
        let line_of = |path: &str| {
            lines
                .iter()
                .find(|l| l.path.as_deref() == Some(path))
                .map(|l| l.text.trim())
                .unwrap()
        };
        assert_eq!(line_of(""), "{");
        assert_eq!(line_of("/properties/revenue"), "\"revenue\": 25.5,");
        assert_eq!(line_of("/properties/products"), "\"products\": [");
        assert_eq!(line_of("/properties/products/0"), "{");
        assert_eq!(line_of("/properties/products/0/price"), "\"price\": 19,");
        let odd = json!({"a/b": {"~": []}, "e": {}});
        let lines = json_lines(&odd);
        assert_eq!(lines[1].path.as_deref(), Some("/a~1b"));
        assert_eq!(lines[2].path.as_deref(), Some("/a~1b/~0"));
        assert_eq!(lines[2].text, "    \"~\": []");
        assert_eq!(
            lines
                .iter()
                .map(|l| l.text.clone())
                .collect::<Vec<_>>()
                .join("\n"),
            serde_json::to_string_pretty(&odd).unwrap()
        );
    }

    #[test]
    fn violations_land_beside_what_they_are_about() {
        let event: Value = serde_json::from_str(EXAMPLE_EVENT).unwrap();
        let at = |v: &Violation| violation_location(v, &event);
        // A value of the wrong type: its own line.
        assert_eq!(
            at(&violation("Datatype-Mismatch", "/properties/revenue", None)).as_deref(),
            Some("/properties/revenue")
        );
        // An extra key: the instance path is its object, the property the key.
        assert_eq!(
            at(&violation(
                "Additional-Properties",
                "/properties",
                Some("coupon")
            ))
            .as_deref(),
            Some("/properties/coupon")
        );
        // A missing key: the object that should have it.
        assert_eq!(
            at(&violation("Required-Missing", "/properties", Some("tax"))).as_deref(),
            Some("/properties")
        );
        // A property given as a path from the root, and Ajv's old dotted paths.
        assert_eq!(
            at(&violation(
                "Datatype-Mismatch",
                "",
                Some("properties.currency")
            ))
            .as_deref(),
            Some("/properties/currency")
        );
        assert_eq!(
            at(&violation(
                "Advance-Rules-Violation",
                ".properties.products[0].price",
                None
            ))
            .as_deref(),
            Some("/properties/products/0/price")
        );
        // About the whole event: listed above it.
        assert_eq!(at(&violation("Unplanned-Event", "", None)), None);
        assert_eq!(
            at(&violation("Required-Missing", "", Some("userId2"))),
            None
        );
        let unplanned = Violation {
            violation_type: "Unplanned-Event".into(),
            message: "no schema for event: Order Completed".into(),
            property: None,
            meta: BTreeMap::new(),
        };
        let (rows, whole) = annotate(
            &event,
            &[
                unplanned.clone(),
                violation("Datatype-Mismatch", "/properties/revenue", None),
            ],
        );
        assert_eq!(whole, [unplanned]);
        let flagged: Vec<&str> = rows
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(l, _)| l.text.trim())
            .collect();
        assert_eq!(flagged, ["\"revenue\": 25.5,"]);
    }

    #[test]
    fn types_have_their_colours_and_an_event_must_be_an_object() {
        assert_eq!(type_class("Required-Missing"), "vt-required");
        assert_eq!(type_class("Something-New"), "vt-unknown");
        assert!(parse_event("[1]").unwrap_err().contains("JSON object"));
        assert!(parse_event("{\"a\": }").unwrap_err().contains("line 1"));
        assert!(parse_event(EXAMPLE_EVENT).is_ok());
        assert_eq!(against(Some(3)), "version 3");
    }
}
