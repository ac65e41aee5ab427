//! A form generated from an integration's JSON Schema (the catalog's `configSchema`).
//!
//! The config being edited lives in one `RwSignal<Value>`; each input reads and writes its own path in it.
//! Secret fields (`writeOnly`) are write-only: they never show a stored value, only whether one is set, and
//! sending nothing keeps the stored value. The API's 422 names a field (`config.apiKey`); the message
//! appears beside that field.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde_json::{Map, Value};

use crate::api::ApiError;

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn dotted(path: &[Seg]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn get_at<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}

/// Sets (or with `None`, removes) the value at `path`, creating the objects and arrays on the way.
fn set_at(value: &mut Value, path: &[Seg], new: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = value;
    for (i, seg) in parents.iter().enumerate() {
        let next_is_index = matches!(path[i + 1], Seg::Index(_));
        current = match seg {
            Seg::Key(k) => {
                if !current.is_object() {
                    *current = Value::Object(Map::new());
                }
                let map = current.as_object_mut().expect("object");
                map.entry(k.clone()).or_insert_with(|| {
                    if next_is_index {
                        Value::Array(vec![])
                    } else {
                        Value::Object(Map::new())
                    }
                })
            }
            Seg::Index(idx) => {
                if !current.is_array() {
                    *current = Value::Array(vec![]);
                }
                let list = current.as_array_mut().expect("array");
                while list.len() <= *idx {
                    list.push(Value::Object(Map::new()));
                }
                &mut list[*idx]
            }
        };
    }
    match (last, new) {
        (Seg::Key(k), Some(v)) => {
            if !current.is_object() {
                *current = Value::Object(Map::new());
            }
            current
                .as_object_mut()
                .expect("object")
                .insert(k.clone(), v);
        }
        (Seg::Key(k), None) => {
            if let Some(map) = current.as_object_mut() {
                map.remove(k);
            }
        }
        (Seg::Index(idx), new) => {
            if let Some(list) = current.as_array_mut() {
                match new {
                    Some(v) if *idx < list.len() => list[*idx] = v,
                    Some(v) => list.push(v),
                    None if *idx < list.len() => {
                        list.remove(*idx);
                    }
                    None => {}
                }
            }
        }
    }
}

/// Fills top-level defaults (what the server would fill on create), so the form shows them.
pub fn with_defaults(schema: &Value, config: Value) -> Value {
    let mut config = if config.is_object() {
        config
    } else {
        Value::Object(Map::new())
    };
    if let (Some(properties), Some(map)) = (
        schema.get("properties").and_then(Value::as_object),
        config.as_object_mut(),
    ) {
        for (key, property) in properties {
            if let Some(default) = property.get("default") {
                map.entry(key.clone()).or_insert_with(|| default.clone());
            }
        }
    }
    config
}

const SOURCE_TYPES: &[&str] = &[
    "web",
    "android",
    "androidKotlin",
    "ios",
    "iosSwift",
    "unity",
    "amp",
    "cloud",
    "warehouse",
    "reactnative",
    "flutter",
    "cordova",
    "shopify",
    "cloudSource",
];

fn is_per_source_type(schema: &Value) -> bool {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty() && p.keys().all(|k| SOURCE_TYPES.contains(&k.as_str())))
}

fn source_type_label(key: &str) -> String {
    match key {
        "web" => "Web".into(),
        "android" => "Android".into(),
        "androidKotlin" => "Android (Kotlin)".into(),
        "ios" => "iOS".into(),
        "iosSwift" => "iOS (Swift)".into(),
        "unity" => "Unity".into(),
        "amp" => "AMP".into(),
        "cloud" => "Cloud (server-side)".into(),
        "warehouse" => "Warehouse".into(),
        "reactnative" => "React Native".into(),
        "flutter" => "Flutter".into(),
        "cordova" => "Cordova".into(),
        "shopify" => "Shopify".into(),
        "cloudSource" => "Cloud source".into(),
        other => other.into(),
    }
}

#[derive(Clone, Copy)]
struct FormCtx {
    config: RwSignal<Value>,
    secrets: StoredValue<BTreeMap<String, bool>>,
    error: Signal<Option<ApiError>>,
}

impl FormCtx {
    fn error_for(&self, path: &[Seg]) -> Option<String> {
        let field = format!("config.{}", dotted(path));
        self.error.get().and_then(|e| e.field_error(&field))
    }
}

/// The fields of `schema`, editing `config`.
#[component]
pub fn SchemaForm(
    schema: Value,
    config: RwSignal<Value>,
    /// Set/unset of the stored secrets (from the resource's `secrets`).
    #[prop(optional)]
    secrets: BTreeMap<String, bool>,
    error: Signal<Option<ApiError>>,
) -> impl IntoView {
    let ctx = FormCtx {
        config,
        secrets: StoredValue::new(secrets),
        error,
    };
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if properties.is_empty() {
        return view! { <p class="muted">"This integration has no settings."</p> }.into_any();
    }
    // What must be filled comes first; the rest folds away, opening when the API names a field in it.
    let mut primary = Vec::new();
    let mut optional = Vec::new();
    let mut per_platform = Vec::new();
    for (key, property) in properties {
        let is_required = required.contains(&key);
        let is_secret = property.get("writeOnly").and_then(Value::as_bool) == Some(true);
        if is_per_source_type(&property) {
            per_platform.push((key, property, is_required));
        } else if is_required || is_secret {
            primary.push((key, property, is_required));
        } else {
            optional.push((key, property, is_required));
        }
    }
    let render = move |fields: Vec<(String, Value, bool)>| {
        fields
            .into_iter()
            .map(|(key, property, required)| {
                field(
                    ctx,
                    vec![Seg::Key(key.clone())],
                    title_of(&key, &property),
                    property,
                    required,
                )
            })
            .collect_view()
    };
    let section = move |title: &'static str, fields: Vec<(String, Value, bool)>| {
        if fields.is_empty() {
            return ().into_any();
        }
        let keys: Vec<String> = fields
            .iter()
            .map(|(k, _, _)| format!("config.{k}"))
            .collect();
        let has_error = move || {
            error.get().and_then(|e| e.field).is_some_and(|f| {
                keys.iter()
                    .any(|k| f == *k || f.starts_with(&format!("{k}.")))
            })
        };
        let count = fields.len();
        view! {
            <details class="group" open=has_error>
                <summary>{title}<span class="muted small">{format!(" · {count}")}</span></summary>
                <div class="form">{render(fields)}</div>
            </details>
        }
        .into_any()
    };
    view! {
        {render(primary)}
        {section("Optional settings", optional)}
        {section("Per-platform settings", per_platform)}
    }
    .into_any()
}

fn title_of(key: &str, schema: &Value) -> String {
    schema
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| key.to_string())
}

fn description_of(schema: &Value) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn field(ctx: FormCtx, path: Vec<Seg>, label: String, schema: Value, required: bool) -> AnyView {
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string")
        .to_string();
    match kind.as_str() {
        "boolean" => boolean_field(ctx, path, label, schema),
        "integer" | "number" => number_field(ctx, path, label, schema, required, kind == "integer"),
        "object" => object_field(ctx, path, label, schema),
        "array" => array_field(ctx, path, label, schema),
        _ if schema.get("enum").is_some() => enum_field(ctx, path, label, schema, required),
        _ if schema.get("writeOnly").and_then(Value::as_bool) == Some(true) => {
            secret_field(ctx, path, label, schema, required)
        }
        _ => string_field(ctx, path, label, schema, required),
    }
}

fn input_id(path: &[Seg]) -> String {
    format!("cfg-{}", dotted(path).replace('.', "-"))
}

fn label_view(id: String, label: String, required: bool) -> impl IntoView {
    view! { <label for=id>{label}{required.then(|| view! { <span class="required">"*"</span> })}</label> }
}

fn help_and_error(ctx: FormCtx, path: Vec<Seg>, schema: &Value) -> impl IntoView {
    let help = description_of(schema).map(|d| view! { <div class="help">{d}</div> });
    view! {
        {help}
        {move || ctx.error_for(&path).map(|m| view! { <div class="error">{m}</div> })}
    }
}

fn invalid(ctx: FormCtx, path: Vec<Seg>) -> impl Fn() -> bool + Send + Sync + 'static {
    move || ctx.error_for(&path).is_some()
}

fn string_field(
    ctx: FormCtx,
    path: Vec<Seg>,
    label: String,
    schema: Value,
    required: bool,
) -> AnyView {
    let id = input_id(&path);
    let kind = if schema.get("format").and_then(Value::as_str) == Some("uri") {
        "url"
    } else {
        "text"
    };
    let read = {
        let path = path.clone();
        move || {
            ctx.config.with(|c| {
                get_at(c, &path)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            })
        }
    };
    let write = {
        let path = path.clone();
        move |ev| {
            let text = event_target_value(&ev);
            ctx.config
                .update(|c| set_at(c, &path, (!text.is_empty()).then_some(Value::String(text))));
        }
    };
    let is_invalid = invalid(ctx, path.clone());
    view! {
        <div class="field" class:invalid=is_invalid>
            {label_view(id.clone(), label, required)}
            <input id=id type=kind autocomplete="off" prop:value=read on:input=write/>
            {help_and_error(ctx, path, &schema)}
        </div>
    }
    .into_any()
}

fn secret_field(
    ctx: FormCtx,
    path: Vec<Seg>,
    label: String,
    schema: Value,
    required: bool,
) -> AnyView {
    let id = input_id(&path);
    let stored = ctx
        .secrets
        .with_value(|s| s.get(&dotted(&path)).copied().unwrap_or(false));
    let read = {
        let path = path.clone();
        move || {
            ctx.config.with(|c| {
                get_at(c, &path)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            })
        }
    };
    let write = {
        let path = path.clone();
        move |ev| {
            let text = event_target_value(&ev);
            // Empty means "keep what is stored": the key is left out of the update.
            ctx.config
                .update(|c| set_at(c, &path, (!text.is_empty()).then_some(Value::String(text))));
        }
    };
    let placeholder = if stored {
        "•••••••• stored — type to replace"
    } else {
        ""
    };
    let is_invalid = invalid(ctx, path.clone());
    view! {
        <div class="field" class:invalid=is_invalid>
            {label_view(id.clone(), label, required)}
            <input id=id type="password" autocomplete="new-password" data-secret="true" placeholder=placeholder prop:value=read on:input=write/>
            <div class="secret-hint">
                {if stored {
                    view! { <span class="badge secret-set">"Secret stored"</span> " " <span class="muted small">"Write-only: the stored value is never shown. Leave empty to keep it."</span> }.into_any()
                } else {
                    view! { <span class="badge secret-unset">"Not set"</span> " " <span class="muted small">"Write-only: it will not be shown again after saving."</span> }.into_any()
                }}
            </div>
            {help_and_error(ctx, path, &schema)}
        </div>
    }
    .into_any()
}

fn enum_field(
    ctx: FormCtx,
    path: Vec<Seg>,
    label: String,
    schema: Value,
    required: bool,
) -> AnyView {
    let id = input_id(&path);
    let options: Vec<Value> = schema
        .get("enum")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let read = {
        let path = path.clone();
        move || {
            ctx.config
                .with(|c| get_at(c, &path).map(display_value).unwrap_or_default())
        }
    };
    let write = {
        let path = path.clone();
        let options = options.clone();
        move |ev| {
            let chosen = event_target_value(&ev);
            let value = options.iter().find(|o| display_value(o) == chosen).cloned();
            ctx.config.update(|c| set_at(c, &path, value));
        }
    };
    let is_invalid = invalid(ctx, path.clone());
    view! {
        <div class="field" class:invalid=is_invalid>
            {label_view(id.clone(), label, required)}
            <select id=id prop:value=read on:change=write>
                {(!required).then(|| view! { <option value="">"— not set —"</option> })}
                {options.iter().map(|o| { let v = display_value(o); view! { <option value=v.clone()>{v.clone()}</option> } }).collect_view()}
            </select>
            {help_and_error(ctx, path, &schema)}
        </div>
    }
    .into_any()
}

fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn boolean_field(ctx: FormCtx, path: Vec<Seg>, label: String, schema: Value) -> AnyView {
    let id = input_id(&path);
    let label_for = id.clone();
    let read = {
        let path = path.clone();
        move || {
            ctx.config
                .with(|c| get_at(c, &path).and_then(Value::as_bool).unwrap_or(false))
        }
    };
    let write = {
        let path = path.clone();
        move |ev| {
            let checked = event_target_checked(&ev);
            ctx.config
                .update(|c| set_at(c, &path, Some(Value::Bool(checked))));
        }
    };
    view! {
        <div class="field">
            <label class="check" for=label_for>
                <input id=id type="checkbox" prop:checked=read on:change=write/>
                {label}
            </label>
            {help_and_error(ctx, path, &schema)}
        </div>
    }
    .into_any()
}

fn number_field(
    ctx: FormCtx,
    path: Vec<Seg>,
    label: String,
    schema: Value,
    required: bool,
    integer: bool,
) -> AnyView {
    let id = input_id(&path);
    let read = {
        let path = path.clone();
        move || {
            ctx.config
                .with(|c| get_at(c, &path).map(display_value).unwrap_or_default())
        }
    };
    let write = {
        let path = path.clone();
        move |ev| {
            let text = event_target_value(&ev);
            let value = if integer {
                text.trim().parse::<i64>().ok().map(Value::from)
            } else {
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            };
            ctx.config.update(|c| set_at(c, &path, value));
        }
    };
    let is_invalid = invalid(ctx, path.clone());
    view! {
        <div class="field" class:invalid=is_invalid>
            {label_view(id.clone(), label, required)}
            <input id=id type="number" step=if integer { "1" } else { "any" } prop:value=read on:input=write/>
            {help_and_error(ctx, path, &schema)}
        </div>
    }
    .into_any()
}

fn object_field(ctx: FormCtx, path: Vec<Seg>, label: String, schema: Value) -> AnyView {
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let per_source_type = is_per_source_type(&schema);
    let fields = properties
        .into_iter()
        .map(|(key, property)| {
            let mut child = path.clone();
            child.push(Seg::Key(key.clone()));
            let title = if per_source_type {
                source_type_label(&key)
            } else {
                title_of(&key, &property)
            };
            field(ctx, child, title, property, required.contains(&key))
        })
        .collect_view();
    let description = description_of(&schema);
    if per_source_type {
        view! {
            <details class="group">
                <summary>{label}<span class="muted small">" · per platform"</span></summary>
                {description.map(|d| view! { <p class="help muted small">{d}</p> })}
                <div class="form">{fields}</div>
            </details>
        }
        .into_any()
    } else {
        view! {
            <fieldset>
                <legend>{label}</legend>
                {description.map(|d| view! { <p class="help muted small">{d}</p> })}
                <div class="form">{fields}</div>
            </fieldset>
        }
        .into_any()
    }
}

fn array_field(ctx: FormCtx, path: Vec<Seg>, label: String, schema: Value) -> AnyView {
    let items = schema
        .get("items")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    let item_is_object = items.get("type").and_then(Value::as_str) == Some("object");
    let length = {
        let path = path.clone();
        Memo::new(move |_| {
            ctx.config.with(|c| {
                get_at(c, &path)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
        })
    };
    let rows = {
        let path = path.clone();
        let items = items.clone();
        move || {
            (0..length.get())
                .map(|i| {
                    let mut item_path = path.clone();
                    item_path.push(Seg::Index(i));
                    let remove = {
                        let item_path = item_path.clone();
                        move |_| ctx.config.update(|c| set_at(c, &item_path, None))
                    };
                    let body = if item_is_object {
                        let properties = items.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                        properties
                            .into_iter()
                            .map(|(key, property)| {
                                let mut child = item_path.clone();
                                child.push(Seg::Key(key.clone()));
                                field(ctx, child, title_of(&key, &property), property, false)
                            })
                            .collect_view()
                            .into_any()
                    } else {
                        field(ctx, item_path.clone(), format!("#{}", i + 1), items.clone(), false)
                    };
                    view! {
                        <div class="array-row">
                            <div class="array-item">{body}</div>
                            <button type="button" class="btn small ghost" title="Remove" on:click=remove>"Remove"</button>
                        </div>
                    }
                })
                .collect_view()
        }
    };
    let add = {
        let path = path.clone();
        move |_| {
            let item = if item_is_object {
                Value::Object(Map::new())
            } else {
                Value::String(String::new())
            };
            ctx.config.update(|c| {
                let len = get_at(c, &path)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let mut item_path = path.clone();
                item_path.push(Seg::Index(len));
                set_at(c, &item_path, Some(item));
            });
        }
    };
    let description = description_of(&schema);
    let is_invalid = invalid(ctx, path.clone());
    view! {
        <fieldset class:invalid=is_invalid>
            <legend>{label}</legend>
            {description.map(|d| view! { <p class="help muted small">{d}</p> })}
            <div class="form">
                {rows}
                <div><button type="button" class="btn small" on:click=add>"+ Add"</button></div>
            </div>
            {move || ctx.error_for(&path).map(|m| view! { <div class="error">{m}</div> })}
        </fieldset>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn set_at_creates_and_removes() {
        let mut v = json!({});
        set_at(
            &mut v,
            &[
                Seg::Key("headers".into()),
                Seg::Index(0),
                Seg::Key("from".into()),
            ],
            Some(json!("a")),
        );
        assert_eq!(v, json!({"headers": [{"from": "a"}]}));
        set_at(&mut v, &[Seg::Key("headers".into()), Seg::Index(0)], None);
        assert_eq!(v, json!({"headers": []}));
        set_at(&mut v, &[Seg::Key("x".into())], Some(json!(1)));
        set_at(&mut v, &[Seg::Key("x".into())], None);
        assert_eq!(v, json!({"headers": []}));
    }
}
