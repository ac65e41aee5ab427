//! One event of a plan in the editor: its type, name and description, the form of its properties (or traits)
//! with nested objects and arrays, and its raw JSON Schema. The form and the JSON are two views of the same
//! [`EventForm`] (`schema_model`): an edit in one shows in the other at once.
//!
//! Read-only (`editable: false`) it shows a published version.

use leptos::prelude::*;
use serde_json::{Number, Value};

use super::schema_model::{
    container_of, enum_text, parse_count, parse_enum, parse_number, value_label, EventForm, Node,
    Property, Step,
};
use crate::api::tracking_plans::{PlanEvent, EVENT_TYPES};

/// Why `pattern` is not a regular expression the validator accepts (rudder-transformer's Ajv compiles it as a
/// JavaScript `RegExp` with the `u` flag, so the browser's own `RegExp` judges), or `None` (always, outside
/// the browser).
pub fn pattern_problem(pattern: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use web_sys::js_sys::{global, Array, Function, Reflect};
        let regexp: Function = Reflect::get(&global(), &"RegExp".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let args = Array::of2(&pattern.into(), &"u".into());
        match Reflect::construct(&regexp, &args) {
            Ok(_) => None,
            Err(error) => Some(
                Reflect::get(&error, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| "not a valid regular expression".into()),
            ),
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = pattern;
        None
    }
}

/// A new key for an event of the editor (its cards are keyed by it).
fn next_key() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An event of the editor, with the state of its card.
#[derive(Clone, Copy)]
pub struct EventSlot {
    pub key: u64,
    pub form: RwSignal<EventForm>,
    pub open: RwSignal<bool>,
    /// Whether the raw JSON Schema is shown.
    pub raw_open: RwSignal<bool>,
    /// Why the JSON typed into the raw view is not used (it does not parse).
    pub raw_error: RwSignal<Option<String>>,
    /// What the API said about this event when it was last saved (a 422 naming `events[i]…`).
    pub error: RwSignal<Option<String>>,
    /// Focus the name when the card first shows (a new event).
    pub fresh: bool,
}

impl EventSlot {
    pub fn new(form: EventForm, open: bool, fresh: bool) -> EventSlot {
        EventSlot {
            key: next_key(),
            form: RwSignal::new(form),
            open: RwSignal::new(open),
            raw_open: RwSignal::new(false),
            raw_error: RwSignal::new(None),
            error: RwSignal::new(None),
            fresh,
        }
    }

    /// The slots of some events, their cards closed (open when there are only a few).
    pub fn all(events: &[PlanEvent]) -> Vec<EventSlot> {
        let open = events.len() <= 2;
        events
            .iter()
            .map(|e| EventSlot::new(EventForm::read(e), open, false))
            .collect()
    }
}

/// What the rows of one event's form share.
#[derive(Clone, Copy)]
struct Ctx {
    form: RwSignal<EventForm>,
    editable: bool,
    /// The property whose name should take the focus (one just added).
    focus: RwSignal<Option<u64>>,
}

/// A node of the form, by its path from the event's fields.
#[derive(Clone, Copy)]
struct At {
    ctx: Ctx,
    path: StoredValue<Vec<Step>>,
}

impl At {
    fn new(ctx: Ctx, path: Vec<Step>) -> At {
        At {
            ctx,
            path: StoredValue::new(path),
        }
    }

    fn child(self, step: Step) -> Vec<Step> {
        let mut path = self.path.get_value();
        path.push(step);
        path
    }

    /// Reads the node (tracked); the default when it is gone (a row about to be removed).
    fn node<T: Default>(self, f: impl FnOnce(&Node) -> T) -> T {
        self.path.with_value(|path| {
            self.ctx
                .form
                .with(|form| form.rules.fields.at(path).map(f).unwrap_or_default())
        })
    }

    fn node_untracked<T: Default>(self, f: impl FnOnce(&Node) -> T) -> T {
        untrack(|| self.node(f))
    }

    fn set_node(self, f: impl FnOnce(&mut Node)) {
        self.path.with_value(|path| {
            self.ctx.form.update(|form| {
                if let Some(node) = form.rules.fields.at_mut(path) {
                    f(node)
                }
            })
        })
    }

    /// The property this path ends in.
    fn prop<T: Default>(self, f: impl FnOnce(&Property) -> T) -> T {
        self.path.with_value(|path| {
            self.ctx
                .form
                .with(|form| form.rules.fields.property(path).map(f).unwrap_or_default())
        })
    }

    fn set_prop(self, f: impl FnOnce(&mut Property)) {
        self.path.with_value(|path| {
            self.ctx.form.update(|form| {
                if let Some(property) = form.rules.fields.property_mut(path) {
                    f(property)
                }
            })
        })
    }
}

/// The type select's value for some types: one type (`null` included), `any`, or `multi` for several
/// besides `null` (shown as such, changed only in the JSON schema or by choosing one).
fn type_choice(types: &[String]) -> String {
    let non_null: Vec<&String> = types.iter().filter(|t| *t != "null").collect();
    match (non_null.as_slice(), types.is_empty()) {
        (_, true) => String::new(),
        ([], false) => "null".into(),
        ([one], false) => (*one).clone(),
        (_, false) => "multi".into(),
    }
}

const TYPE_OPTIONS: [(&str, &str); 8] = [
    ("", "any"),
    ("string", "string"),
    ("number", "number"),
    ("integer", "integer"),
    ("boolean", "boolean"),
    ("object", "object"),
    ("array", "array"),
    ("null", "null"),
];

/// A select of the JSON types for the node at `at` (with "or null" kept as it is).
fn type_select(at: At, label: &'static str, test_id: &'static str) -> impl IntoView {
    let editable = at.ctx.editable;
    let choice = Memo::new(move |_| at.node(|n| type_choice(&n.types)));
    let multi_label = move || {
        at.node(|n| {
            n.types
                .iter()
                .filter(|t| *t != "null")
                .cloned()
                .collect::<Vec<_>>()
                .join(" or ")
        })
    };
    let change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if value == "multi" {
            return;
        }
        at.set_node(|node| {
            let nullable = node.has_type("null");
            let mut types = if value.is_empty() {
                vec![]
            } else {
                vec![value.clone()]
            };
            if nullable && !value.is_empty() && value != "null" {
                types.push("null".into());
            }
            node.set_types(types);
        });
    };
    view! {
        <select aria-label=label data-testid=test_id disabled=!editable on:change=change>
            {TYPE_OPTIONS.into_iter().map(|(value, text)| view! {
                <option value=value selected=move || choice.get() == value>{text}</option>
            }).collect_view()}
            {move || (choice.get() == "multi").then(|| view! { <option value="multi" selected=true>{multi_label}</option> })}
        </select>
    }
}

/// An input for a value the form parses (a number, a list of values): what is typed stays as typed while it
/// means the value the form holds (`1.` while typing `1.5`); a change from elsewhere (the JSON view)
/// replaces it.
fn parsed_input<T>(
    editable: bool,
    label: &'static str,
    test_id: &'static str,
    read: impl Fn() -> T + Copy + Send + Sync + 'static,
    show: impl Fn(&T) -> String + Copy + Send + Sync + 'static,
    parse: impl Fn(&str) -> Option<T> + Copy + Send + Sync + 'static,
    write: impl Fn(T) + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    T: PartialEq + Send + Sync + 'static,
{
    let text = RwSignal::new(show(&untrack(read)));
    let invalid = RwSignal::new(false);
    Effect::new(move |_| {
        let current = read();
        if parse(&text.get_untracked()).as_ref() != Some(&current) {
            text.set(show(&current));
            invalid.set(false);
        }
    });
    let input = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        text.set(value.clone());
        match parse(&value) {
            Some(parsed) => {
                invalid.set(false);
                if untrack(read) != parsed {
                    write(parsed);
                }
            }
            None => invalid.set(true),
        }
    };
    view! {
        <label class="field tp-rule" class:invalid=move || invalid.get()>
            <span class="label">{label}</span>
            <input type="text" data-testid=test_id disabled=!editable
                prop:value=move || text.get() on:input=input/>
        </label>
    }
}

/// `pattern`, with why the browser would not compile it.
fn pattern_rule(at: At) -> impl IntoView {
    let editable = at.ctx.editable;
    let problem = Memo::new(move |_| {
        at.node(|n| n.pattern.clone())
            .and_then(|p| pattern_problem(&p))
    });
    view! {
        <label class="field tp-rule" class:invalid=move || problem.with(Option::is_some)>
            <span class="label">"Pattern (regular expression)"</span>
            <input type="text" class="tp-mono" data-testid="tp-rule-pattern" disabled=!editable spellcheck="false"
                prop:value=move || at.node(|n| n.pattern.clone()).unwrap_or_default()
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    at.set_node(|n| n.pattern = Some(value).filter(|v| !v.is_empty()));
                }/>
            {move || problem.get().map(|why| view! { <span class="error">{why}</span> })}
        </label>
    }
}

/// A text input for an optional string keyword (empty removes it).
fn text_rule(
    at: At,
    label: &'static str,
    test_id: &'static str,
    get: fn(&Node) -> Option<String>,
    set: fn(&mut Node, Option<String>),
) -> impl IntoView {
    let editable = at.ctx.editable;
    view! {
        <label class="field tp-rule">
            <span class="label">{label}</span>
            <input type="text" data-testid=test_id disabled=!editable
                prop:value=move || at.node(get).unwrap_or_default()
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    at.set_node(|n| set(n, Some(value).filter(|v| !v.is_empty())));
                }/>
        </label>
    }
}

fn number_rule(
    at: At,
    label: &'static str,
    test_id: &'static str,
    count: bool,
    get: fn(&Node) -> Option<Number>,
    set: fn(&mut Node, Option<Number>),
) -> impl IntoView {
    parsed_input(
        at.ctx.editable,
        label,
        test_id,
        move || at.node(get),
        |n: &Option<Number>| n.as_ref().map(Number::to_string).unwrap_or_default(),
        move |text: &str| {
            if count {
                parse_count(text)
            } else {
                parse_number(text)
            }
        },
        move |n| at.set_node(|node| set(node, n)),
    )
}

/// `enum` as comma-separated values, when it reads back the same; otherwise a note to edit it as JSON.
fn enum_rule(at: At) -> impl IntoView {
    let representable = Memo::new(move |_| {
        at.node(|n| {
            n.enum_values
                .as_ref()
                .is_none_or(|values| enum_text(values, &n.types).is_some())
        })
    });
    move || {
        if representable.get() {
            parsed_input(
                at.ctx.editable,
                "Allowed values (comma-separated)",
                "tp-rule-enum",
                move || at.node(|n| n.enum_values.clone()),
                move |values: &Option<Vec<Value>>| {
                    let types = at.node_untracked(|n| n.types.clone());
                    values
                        .as_ref()
                        .and_then(|v| enum_text(v, &types))
                        .unwrap_or_default()
                },
                move |text: &str| {
                    let types = at.node_untracked(|n| n.types.clone());
                    let values = parse_enum(text, &types);
                    Some((!values.is_empty()).then_some(values))
                },
                move |values| at.set_node(|n| n.enum_values = values),
            )
            .into_any()
        } else {
            let shown = at.node_untracked(|n| {
                n.enum_values
                    .as_ref()
                    .map(|v| serde_json::to_string(v).unwrap_or_default())
                    .unwrap_or_default()
            });
            view! {
                <div class="field tp-rule">
                    <span class="label">"Allowed values"</span>
                    <code class="tp-code">{shown}</code>
                    <span class="help">"Edit these in the JSON schema."</span>
                </div>
            }
            .into_any()
        }
    }
}

/// The rules of the node at `at` that apply to its types (with `description` for a property).
fn node_rules(at: At, with_description: bool) -> AnyView {
    let is_string = Memo::new(move |_| at.node(|n| n.is_string()));
    let is_number = Memo::new(move |_| at.node(|n| n.is_number()));
    let takes_enum = Memo::new(move |_| at.node(|n| n.takes_enum()));
    let is_array = Memo::new(move |_| at.node(|n| n.is_array()));
    let has_items = Memo::new(move |_| at.node(|n| n.items.is_some()));
    view! {
        <div class="tp-rules">
            {with_description.then(|| view! {
                <div class="tp-rules-row wide">
                    {text_rule(at, "Description", "tp-rule-description", |n| n.description.clone(), |n, v| n.description = v)}
                </div>
            })}
            <div class="tp-rules-row">
                {move || takes_enum.get().then(|| enum_rule(at))}
                {move || is_string.get().then(|| view! {
                    {number_rule(at, "Min length", "tp-rule-min-length", true, |n| n.min_length.clone(), |n, v| n.min_length = v)}
                    {number_rule(at, "Max length", "tp-rule-max-length", true, |n| n.max_length.clone(), |n, v| n.max_length = v)}
                    {pattern_rule(at)}
                })}
                {move || is_number.get().then(|| view! {
                    {number_rule(at, "Minimum", "tp-rule-minimum", false, |n| n.minimum.clone(), |n, v| n.minimum = v)}
                    {number_rule(at, "Maximum", "tp-rule-maximum", false, |n| n.maximum.clone(), |n, v| n.maximum = v)}
                })}
                {move || is_array.get().then(|| view! {
                    {number_rule(at, "Min items", "tp-rule-min-items", true, |n| n.min_items.clone(), |n, v| n.min_items = v)}
                    {number_rule(at, "Max items", "tp-rule-max-items", true, |n| n.max_items.clone(), |n, v| n.max_items = v)}
                })}
            </div>
            {move || (is_array.get() && has_items.get()).then(|| {
                let items = At::new(at.ctx, at.child(Step::Items));
                view! {
                    <div class="tp-rules-items">
                        <div class="tp-rules-title">"Each item"</div>
                        {node_rules(items, false)}
                    </div>
                }
            })}
            {other_keywords(at)}
        </div>
    }
    .into_any()
}

/// The keywords of a node the form leaves alone, said once.
fn other_keywords(at: At) -> impl IntoView {
    move || {
        let other = at.node(|n| n.other_keywords());
        (!other.is_empty()).then(|| {
            view! {
                <p class="muted small tp-other">
                    "Also in the schema, kept as written (edit them in the JSON schema): "
                    <code>{other.join(", ")}</code>
                </p>
            }
        })
    }
}

/// `properties` → `property`, for "Add property" and "1 property".
fn singular(what: &str) -> &str {
    match what {
        "properties" => "property",
        "traits" => "trait",
        "item properties" => "item property",
        other => other,
    }
}

/// The properties of the object at `at` (an event's fields, a nested object, an array's items), with
/// "Add property" and "Allow unplanned properties".
fn object_fields(at: At, what: &'static str) -> AnyView {
    let ctx = at.ctx;
    let ids =
        Memo::new(move |_| at.node(|n| n.properties.iter().map(|p| p.id).collect::<Vec<u64>>()));
    let allows_unplanned = move || at.node(|n| n.additional != Some(false));
    let add = move |_| {
        let mut added = None;
        at.path.with_value(|path| {
            ctx.form
                .update(|form| added = form.rules.fields.add_property(path))
        });
        ctx.focus.set(added);
    };
    view! {
        <div class="tp-fields">
            {move || if ids.with(Vec::is_empty) {
                view! { <p class="muted small tp-none">{format!("No {what} yet.")}</p> }.into_any()
            } else {
                view! {
                    <div class="tp-prop-head" aria-hidden="true">
                        <span>"Name"</span><span>"Type"</span><span>"Required"</span><span>"Rules"</span><span></span>
                    </div>
                }.into_any()
            }}
            <For
                each=move || ids.get()
                key=|id| *id
                children=move |id| property_row(At::new(ctx, at.child(Step::Prop(id))))
            />
            <div class="tp-fields-foot">
                {ctx.editable.then(|| view! {
                    <button type="button" class="btn small" data-testid="tp-add-property" on:click=add>
                        {format!("+ Add {}", singular(what))}
                    </button>
                })}
                <label class="check small">
                    <input type="checkbox" data-testid="tp-allow-unplanned" disabled=!ctx.editable
                        prop:checked=allows_unplanned
                        on:change=move |ev| {
                            let allow = event_target_checked(&ev);
                            // Allowed is the default: unchecking says `false`, checking again says `true`.
                            at.set_node(|n| n.additional = Some(allow));
                        }/>
                    {format!("Allow unplanned {what}")}
                </label>
            </div>
        </div>
    }
    .into_any()
}

/// One property: its row (name, type, required, its rules in brief, remove), its rules when opened, and
/// what it holds (an object's properties, an array's items).
fn property_row(at: At) -> AnyView {
    let ctx = at.ctx;
    let rules_open = RwSignal::new(false);
    let name_ref = NodeRef::<leptos::html::Input>::new();
    let my_id = at.path.with_value(|p| match p.last() {
        Some(Step::Prop(id)) => *id,
        _ => 0,
    });
    Effect::new(move |_| {
        if ctx.focus.get() == Some(my_id) {
            if let Some(input) = name_ref.get() {
                let _ = input.focus();
            }
            ctx.focus.set(None);
        }
    });
    let nullable_shown = Memo::new(move |_| {
        at.node(|n| {
            let choice = type_choice(&n.types);
            !choice.is_empty() && choice != "null"
        })
    });
    let has_object =
        Memo::new(move |_| at.node(|n| n.has_type("object") || !n.properties.is_empty()));
    let has_array = Memo::new(move |_| at.node(|n| n.has_type("array")));
    let items_object = Memo::new(move |_| {
        at.node(|n| {
            n.items
                .as_ref()
                .is_some_and(|i| i.has_type("object") || !i.properties.is_empty())
        })
    });
    let summary = move || {
        let (summary, description) = at.node(|n| (n.summary(), n.description.clone()));
        match (summary.is_empty(), description) {
            (true, None) => String::new(),
            (true, Some(d)) => d,
            (false, _) => summary,
        }
    };
    let remove = move |_| {
        at.path.with_value(|path| {
            ctx.form
                .update(|form| form.rules.fields.remove_property(path))
        })
    };
    let item_at = At::new(ctx, at.child(Step::Items));
    let item_choice = Memo::new(move |_| {
        at.node(|n| {
            n.items
                .as_ref()
                .map(|i| type_choice(&i.types))
                .unwrap_or_default()
        })
    });
    let set_item_type = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if value == "multi" {
            return;
        }
        at.set_node(|n| {
            let types = if value.is_empty() {
                vec![]
            } else {
                vec![value.clone()]
            };
            match &mut n.items {
                Some(items) => items.set_types(types),
                None if types.is_empty() => {}
                None => n.items = Some(Box::new(Node::of_type(&value))),
            }
        });
    };
    view! {
        <div class="tp-prop" data-testid="tp-property">
            <div class="tp-prop-row">
                <input type="text" class="tp-prop-name" aria-label="Property name" placeholder="name"
                    data-testid="tp-prop-name" node_ref=name_ref disabled=!ctx.editable
                    prop:value=move || at.prop(|p| p.name.clone())
                    on:input=move |ev| { let v = event_target_value(&ev); at.set_prop(|p| p.name = v); }/>
                <div class="tp-prop-type">
                    {type_select(at, "Type", "tp-prop-type")}
                    {move || nullable_shown.get().then(|| view! {
                        <label class="check small" title="Also accept null">
                            <input type="checkbox" data-testid="tp-prop-nullable" disabled=!ctx.editable
                                prop:checked=move || at.node(|n| n.has_type("null"))
                                on:change=move |ev| {
                                    let nullable = event_target_checked(&ev);
                                    at.set_node(|n| {
                                        n.types.retain(|t| t != "null");
                                        if nullable { n.types.push("null".into()); }
                                    });
                                }/>
                            "or null"
                        </label>
                    })}
                </div>
                <label class="check tp-prop-required">
                    <input type="checkbox" aria-label="Required" data-testid="tp-prop-required" disabled=!ctx.editable
                        prop:checked=move || at.prop(|p| p.required)
                        on:change=move |ev| { let required = event_target_checked(&ev); at.set_prop(|p| p.required = required); }/>
                    <span class="tp-when-narrow">"Required"</span>
                </label>
                <button type="button" class="tp-summary" data-testid="tp-prop-rules"
                    aria-expanded=move || rules_open.get().to_string()
                    on:click=move |_| rules_open.update(|o| *o = !*o)>
                    <span class="tp-caret"></span>
                    {move || {
                        let s = summary();
                        if s.is_empty() {
                            view! { <span class="faint">{if ctx.editable { "Add rules" } else { "No rules" }}</span> }.into_any()
                        } else {
                            view! { <span>{s}</span> }.into_any()
                        }
                    }}
                </button>
                {if ctx.editable {
                    view! { <button type="button" class="btn small ghost tp-remove" title="Remove this property" aria-label="Remove property" on:click=remove>"✕"</button> }.into_any()
                } else {
                    view! { <span></span> }.into_any()
                }}
            </div>
            {move || rules_open.get().then(|| node_rules(at, true))}
            {move || has_array.get().then(|| view! {
                <div class="tp-nested">
                    <div class="tp-items">
                        <span class="label">"Items"</span>
                        <select aria-label="Item type" data-testid="tp-item-type" disabled=!ctx.editable on:change=set_item_type>
                            {TYPE_OPTIONS.into_iter().map(|(value, text)| view! {
                                <option value=value selected=move || item_choice.get() == value>{text}</option>
                            }).collect_view()}
                            {move || (item_choice.get() == "multi").then(|| view! { <option value="multi" selected=true>"several types"</option> })}
                        </select>
                    </div>
                    {move || items_object.get().then(|| object_fields(item_at, "item properties"))}
                </div>
            })}
            {move || has_object.get().then(|| view! {
                <div class="tp-nested">{object_fields(at, "properties")}</div>
            })}
        </div>
    }
    .into_any()
}

/// The raw JSON Schema of an event: edits apply as soon as they parse; until then the error is shown and
/// the form keeps the last schema that did.
fn raw_rules(slot: EventSlot, editable: bool) -> impl IntoView {
    let form = slot.form;
    let text = RwSignal::new(String::new());
    // The rules the text shows, to tell an edit of the form (the text follows) from an edit of the text.
    let shown = StoredValue::new(Value::Null);
    Effect::new(move |_| {
        let rules = form.with(EventForm::rules_value);
        if shown.with_value(|s| s != &rules) {
            text.set(serde_json::to_string_pretty(&rules).unwrap_or_default());
            shown.set_value(rules);
            slot.raw_error.set(None);
        }
    });
    let input = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        text.set(value.clone());
        match serde_json::from_str::<Value>(&value) {
            Ok(rules) if rules.is_object() => {
                slot.raw_error.set(None);
                shown.set_value(rules.clone());
                form.update(|f| f.set_rules(&rules));
            }
            Ok(_) => slot.raw_error.set(Some(
                "The rules must be a JSON object (a JSON Schema).".into(),
            )),
            Err(e) => slot.raw_error.set(Some(format!(
                "Line {}, column {}: {}",
                e.line(),
                e.column(),
                without_position(&e.to_string())
            ))),
        }
    };
    let rows = move || text.with(|t| t.lines().count().clamp(8, 40));
    view! {
        <div class="tp-raw">
            <div class="row">
                <h3>"JSON Schema"</h3>
                <span class="muted small">"Of the whole message: properties under "<code>"properties.properties"</code>", traits under "<code>"properties.traits"</code>"."</span>
            </div>
            <textarea class="tp-code-input" spellcheck="false" aria-label="Rules (JSON Schema)" data-testid="tp-raw"
                class:invalid=move || slot.raw_error.with(Option::is_some)
                rows=rows readonly=!editable prop:value=move || text.get() on:input=input></textarea>
            {move || slot.raw_error.get().map(|e| view! { <div class="error small" role="alert" data-testid="tp-raw-error">{e}</div> })}
        </div>
    }
}

/// serde_json's message without its " at line 3 column 5" (said first instead).
fn without_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at])
}

/// An event's card: a header that opens it, and inside, the event's settings, its properties and its JSON.
#[component]
pub fn EventCard(
    #[prop(name = "event")] slot: EventSlot,
    editable: bool,
    /// Removes the event from the draft (editors only).
    #[prop(optional)]
    on_remove: Option<Callback<()>>,
    /// Event types the plan already has rules for (besides this event), for the type select.
    #[prop(optional, into)]
    taken: Option<Signal<Vec<String>>>,
) -> impl IntoView {
    let form = slot.form;
    let focus = RwSignal::new(None::<u64>);
    let ctx = Ctx {
        form,
        editable,
        focus,
    };
    let is_track = Memo::new(move |_| form.with(EventForm::is_track));
    let event_type = Memo::new(move |_| form.with(|f| f.event_type.clone()));
    let what = Memo::new(move |_| {
        if form.with(|f| container_of(&f.event_type)) == "traits" {
            "traits"
        } else {
            "properties"
        }
    });
    let count = move || {
        let n = form.with(|f| f.rules.fields.properties.len());
        let what = what.get();
        match n {
            1 => format!("1 {}", singular(what)),
            n => format!("{n} {what}"),
        }
    };
    // Patterns are checked by the browser: only once hydrated, so that the page hydrates as it was rendered.
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    let problems = Memo::new(move |_| {
        if mounted.get() {
            form.with(|f| f.problems_with(&pattern_problem))
        } else {
            form.with(EventForm::problems)
        }
    });
    let name_ref = NodeRef::<leptos::html::Input>::new();
    if slot.fresh {
        Effect::new(move |_| {
            if let Some(input) = name_ref.get() {
                let _ = input.focus();
            }
        });
    }
    let set_type = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        form.update(|f| f.event_type = value);
    };
    let taken =
        move |t: &str| taken.is_some_and(|taken| taken.with(|list| list.iter().any(|x| x == t)));
    view! {
        <div class="card tp-event" class:open=move || slot.open.get() data-testid="tp-event">
            <div class="tp-event-head">
                <button type="button" class="tp-toggle" data-testid="tp-event-toggle"
                    aria-expanded=move || slot.open.get().to_string()
                    on:click=move |_| slot.open.update(|o| *o = !*o)>
                    <span class="tp-caret"></span>
                    <span class="badge tp-type">{move || event_type.get()}</span>
                    <span class="tp-event-title" data-testid="tp-event-title">{move || form.with(EventForm::title)}</span>
                    <span class="muted small">{count}</span>
                </button>
                {move || {
                    let n = problems.with(Vec::len) + usize::from(slot.raw_error.with(Option::is_some)) + usize::from(slot.error.with(Option::is_some));
                    (n > 0).then(|| view! { <span class="badge fail">{if n == 1 { "1 problem".to_string() } else { format!("{n} problems") }}</span> })
                }}
                <button type="button" class="btn small" data-testid="tp-event-json"
                    aria-pressed=move || slot.raw_open.get().to_string()
                    on:click=move |_| { slot.raw_open.update(|o| *o = !*o); slot.open.set(true); }>
                    "JSON schema"
                </button>
                {on_remove.filter(|_| editable).map(|remove| view! {
                    <button type="button" class="btn small danger" data-testid="tp-event-remove" on:click=move |_| remove.run(())>"Remove"</button>
                })}
            </div>
            {move || slot.error.get().map(|message| view! {
                <div class="alert error tp-event-alert" role="alert" data-testid="tp-event-error">{message}</div>
            })}
            <Show when=move || slot.open.get()>
                <div class="tp-event-body">
                    <div class="tp-event-meta">
                        <label class="field">
                            <span class="label">"Type"</span>
                            <select data-testid="tp-event-type" disabled=!editable on:change=set_type>
                                {EVENT_TYPES.into_iter().map(|t| view! {
                                    <option value=t selected=move || event_type.get() == t
                                        disabled=move || t != "track" && t != event_type.get() && taken(t)>{t}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        {move || is_track.get().then(|| view! {
                            <label class="field tp-grow">
                                <span class="label">"Event name"<span class="required">"*"</span></span>
                                <input type="text" data-testid="tp-event-name" node_ref=name_ref disabled=!editable placeholder="Order Completed"
                                    prop:value=move || form.with(|f| f.name.clone())
                                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| f.name = v); }/>
                            </label>
                        })}
                        <label class="field tp-grow">
                            <span class="label">"Description"</span>
                            <input type="text" data-testid="tp-event-description" disabled=!editable
                                prop:value=move || form.with(|f| f.description.clone())
                                on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| f.description = v); }/>
                        </label>
                    </div>
                    {move || {
                        let list = problems.get();
                        (!list.is_empty() && editable).then(|| view! {
                            <ul class="tp-problems" data-testid="tp-problems">
                                {list.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                            </ul>
                        })
                    }}
                    <div class="tp-section-title">
                        <h3>{move || if what.get() == "traits" { "Traits" } else { "Properties" }}</h3>
                        <span class="muted small">{move || if what.get() == "traits" {
                            "The message's traits (properties.traits in the schema)."
                        } else {
                            "The message's properties (properties.properties in the schema)."
                        }}</span>
                    </div>
                    {move || {
                        // Again when the type moves the fields between properties and traits.
                        let what = what.get();
                        object_fields(At::new(ctx, Vec::new()), what)
                    }}
                    {move || {
                        let other = form.with(|f| f.rules.other_rules());
                        (!other.is_empty()).then(|| view! {
                            <p class="muted small tp-other">
                                "The schema also has rules the form does not show, kept as written (see the JSON schema): "
                                <code>{other.join(", ")}</code>
                            </p>
                        })
                    }}
                    {move || slot.raw_open.get().then(|| raw_rules(slot, editable))}
                </div>
            </Show>
        </div>
    }
}

/// A value of a rule, as the versions' diff and the read-only views show it: JSON, strings quoted.
pub fn rule_value(value: &Value) -> String {
    match value {
        Value::String(_) => value.to_string(),
        _ => value_label(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_select_shows_one_type_or_several() {
        let t =
            |types: &[&str]| type_choice(&types.iter().map(|t| t.to_string()).collect::<Vec<_>>());
        assert_eq!(t(&[]), "");
        assert_eq!(t(&["string"]), "string");
        assert_eq!(t(&["string", "null"]), "string");
        assert_eq!(t(&["null"]), "null");
        assert_eq!(t(&["string", "number"]), "multi");
    }

    #[test]
    fn json_errors_say_where_first() {
        let e = serde_json::from_str::<Value>("{\n  \"a\": }").unwrap_err();
        assert_eq!(without_position(&e.to_string()), "expected value");
    }
}
