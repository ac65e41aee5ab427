//! A source's tracking plan (`GET|PUT|DELETE …/sources/{id}/tracking-plan`): which published version of
//! which plan its events are validated against, and what the data plane does with violations, for every
//! event type (`global`) and overridden per type. The settings are the strings rudder-server and
//! rudder-transformer read (`../shared/reference/rudderstack-protocol.md` §3.2).
//!
//! Part of the source page, which is in the first load: plain selects, few signals, no extra requests until
//! the card renders.

use std::collections::BTreeMap;

use leptos::either::Either;
use leptos::lazy;
use leptos::prelude::*;
use serde_json::Value;

use super::confirm;
use crate::api::tracking_plans::{
    LinkTrackingPlan, SourceTrackingPlan, TrackingPlanSettings, TrackingPlanSummary, EVENT_TYPES,
};
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};
use crate::components::{report, ApiErrorAlert, Loading};
use crate::session::use_workspace;

/// A setting the data plane reads: its key, what people call it, its choices (value, label) and what an
/// unset key means to the data plane.
struct Setting {
    key: &'static str,
    label: &'static str,
    help: &'static str,
    choices: &'static [(&'static str, &'static str)],
    default: &'static str,
}

const SETTINGS: [Setting; 5] = [
    Setting {
        key: "allowUnplannedEvents",
        label: "Unplanned events",
        help: "A track event the plan does not name.",
        choices: &[("true", "Forward"), ("false", "Drop")],
        default: "true",
    },
    Setting {
        key: "unplannedProperties",
        label: "Unplanned properties",
        help: "A property the plan does not name.",
        choices: &[("forward", "Forward"), ("drop", "Drop event")],
        default: "forward",
    },
    Setting {
        key: "anyOtherViolation",
        label: "Other violations",
        help: "A required property missing, a wrong type, a broken rule.",
        choices: &[("forward", "Forward"), ("drop", "Drop event")],
        default: "forward",
    },
    Setting {
        key: "sendViolatedEventsTo",
        label: "Dropped events",
        help: "Where the data plane keeps the events it drops.",
        choices: &[("", "Discard"), ("procerrors", "Processor errors")],
        default: "",
    },
    Setting {
        key: "propagateValidationErrors",
        label: "Violations in the event",
        help: "context.violationErrors on events that are forwarded.",
        choices: &[("true", "Add"), ("false", "Leave out")],
        default: "true",
    },
];

/// A setting's value as the selects hold it: the lower-cased string the data plane compares, "" when unset.
fn read(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_lowercase(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn get(settings: &TrackingPlanSettings, key: &str) -> String {
    let text = |value: &Option<String>| read(value.clone().map(Value::String).as_ref());
    match key {
        "allowUnplannedEvents" => read(settings.allow_unplanned_events.as_ref()),
        "unplannedProperties" => text(&settings.unplanned_properties),
        "anyOtherViolation" => text(&settings.any_other_violation),
        "sendViolatedEventsTo" => text(&settings.send_violated_events_to),
        "propagateValidationErrors" => read(settings.propagate_validation_errors.as_ref()),
        _ => String::new(),
    }
}

fn set(settings: &mut TrackingPlanSettings, key: &str, value: String) {
    let value = Some(value).filter(|v| !v.is_empty());
    match key {
        "allowUnplannedEvents" => settings.allow_unplanned_events = value.map(Value::String),
        "unplannedProperties" => settings.unplanned_properties = value,
        "anyOtherViolation" => settings.any_other_violation = value,
        "sendViolatedEventsTo" => settings.send_violated_events_to = value,
        "propagateValidationErrors" => {
            settings.propagate_validation_errors = value.map(Value::String)
        }
        _ => {}
    }
}

/// The sections of the settings: every event type, then each type's overrides.
fn sections() -> impl Iterator<Item = &'static str> {
    std::iter::once("global").chain(EVENT_TYPES)
}

/// One select per section and setting, starting from `config`: `global` always explicit (what an unset key
/// means, shown as what it is), a type's setting "" when it follows `global`.
fn cells(
    config: &BTreeMap<String, TrackingPlanSettings>,
) -> Vec<(&'static str, usize, RwSignal<String>)> {
    let mut cells = Vec::new();
    for section in sections() {
        let stored = config.get(section);
        for (i, setting) in SETTINGS.iter().enumerate() {
            let mut value = stored.map(|s| get(s, setting.key)).unwrap_or_default();
            if section == "global" && !setting.choices.iter().any(|(v, _)| *v == value) {
                value = setting.default.to_owned();
            }
            cells.push((section, i, RwSignal::new(value)));
        }
    }
    cells
}

/// The config to store: `global` with every setting written out (an empty config would make the data plane
/// skip validation altogether), each type with what it overrides; Ajv options set through the API are kept.
fn config_of(
    cells: &[(&'static str, usize, RwSignal<String>)],
    stored: &BTreeMap<String, TrackingPlanSettings>,
) -> BTreeMap<String, TrackingPlanSettings> {
    let mut config = BTreeMap::new();
    for section in sections() {
        let mut settings = TrackingPlanSettings {
            ajv_options: stored.get(section).and_then(|s| s.ajv_options.clone()),
            ..Default::default()
        };
        for (_, i, value) in cells.iter().filter(|(s, _, _)| *s == section) {
            set(&mut settings, SETTINGS[*i].key, value.get_untracked());
        }
        if section == "global" || settings != TrackingPlanSettings::default() {
            config.insert(section.to_owned(), settings);
        }
    }
    config
}

/// The tracking-plan card of a source's page. The source page is in the first load, and the card's code is
/// not: the server renders the card's frame, and the browser loads the rest (a wasm chunk of its own, split
/// out by `scripts/build-site`) once the page is hydrated. Never during hydration: a lazy function polled
/// then, before its chunk has arrived, would break it.
#[component]
pub fn SourceTrackingPlanCard(source_id: String) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    // Effects run in the browser only, after hydration.
    Effect::new(move |_| hydrated.set(true));
    view! {
        <div class="card" data-testid="source-tracking-plan">
            <div class="card-header">
                <h2>"Tracking plan"</h2>
                <span class="hint">"Validates this source's events on the data plane"</span>
            </div>
            {move || {
                if !hydrated.get() {
                    return Either::Right(view! { <Loading/> });
                }
                let source_id = source_id.clone();
                Either::Left(view! {
                    <Suspense fallback=Loading>
                        {Suspend::new(async move { card_body(source_id).await })}
                    </Suspense>
                })
            }}
        </div>
    }
}

/// The card's content: the link and the plans to choose from, read in the browser.
#[lazy]
fn card_body(source_id: String) -> AnyView {
    view! { <CardBody source_id=source_id/> }.into_any()
}

#[component]
fn CardBody(source_id: String) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let reloads = RwSignal::new(0u32);
    let path = ws.api(&format!("/sources/{source_id}/tracking-plan"));
    let data = LocalResource::new({
        let (api, path, plans) = (api.clone(), path.clone(), ws.api("/tracking-plans"));
        move || {
            reloads.track();
            let (api, path, source_id) = (api.clone(), path.clone(), source_id.clone());
            let plans = api.get::<Vec<TrackingPlanSummary>>(plans.clone());
            async move {
                let plans = plans.await?;
                // The plans list the sources linked to them: the link is read only when there is one (a 404
                // would be an error on the browser's console for every source without a plan).
                let link = if plans.iter().any(|p| p.source_ids.contains(&source_id)) {
                    api.get_optional::<SourceTrackingPlan>(path).await?
                } else {
                    None
                };
                Ok::<_, ApiError>((link, plans))
            }
        }
    });
    view! {
        <Transition fallback=Loading>
            {move || {
                let path = path.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok((link, plans)) => Either::Left(view! { <LinkForm path=path link=link plans=plans reloads=reloads/> }),
                        Err(e) => Either::Right(view! { <div class="card-body"><div class="alert error" role="alert">{e.message}</div></div> }),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn LinkForm(
    path: String,
    link: Option<SourceTrackingPlan>,
    plans: Vec<TrackingPlanSummary>,
    reloads: RwSignal<u32>,
) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let can_edit = ws.can(Role::Editor);
    let error = RwSignal::new(None::<ApiError>);
    let reload = move || reloads.update(|n| *n += 1);
    let save = Action::new({
        let (api, path) = (api.clone(), path.clone());
        move |body: &LinkTrackingPlan| api.put::<_, SourceTrackingPlan>(path.clone(), body)
    });
    report(save, error, "Tracking plan saved.", move |_| reload());
    let unlink = Action::new(move |_: &()| api.delete(path.clone()));
    report(unlink, error, "Tracking plan unlinked.", move |_| reload());

    let stored = link.as_ref().map(|l| l.config.clone()).unwrap_or_default();
    let cells = StoredValue::new(cells(&stored));
    let plan = RwSignal::new(
        link.as_ref()
            .map(|l| l.tracking_plan_id.clone())
            .unwrap_or_default(),
    );
    let version = RwSignal::new(link.as_ref().map(|l| l.version));
    let plans = StoredValue::new(plans);
    let latest_of = move |id: &str| {
        plans.with_value(|p| p.iter().find(|p| p.id == id).and_then(|p| p.latest_version))
    };

    let linked_to = link.as_ref().map(|link| {
        let (name, latest) = plans.with_value(|plans| {
            plans
                .iter()
                .find(|p| p.id == link.tracking_plan_id)
                .map_or((link.tracking_plan_id.clone(), None), |p| (p.name.clone(), p.latest_version))
        });
        let newer = latest.filter(|l| *l > link.version);
        view! {
            <p data-testid="tp-linked">
                "Validated against "<a href=ws.href(&format!("/tracking-plans/{}", link.tracking_plan_id))>{name}</a>
                {format!(", version {}.", link.version)}
                {newer.map(|n| view! { " "<span class="badge warn">{format!("Version {n} is published")}</span> })}
            </p>
        }
    });
    let has_link = link.is_some();
    let no_plans = plans.with_value(Vec::is_empty);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (tracking_plan_id, Some(version)) = (plan.get_untracked(), version.get_untracked())
        else {
            error.set(Some(ApiError {
                status: 400,
                code: "validation_failed".into(),
                message: "Choose a plan and one of its published versions.".into(),
                field: None,
                current_revision: None,
            }));
            return;
        };
        let config = cells.with_value(|cells| config_of(cells, &stored));
        save.dispatch(LinkTrackingPlan {
            tracking_plan_id,
            version,
            config,
        });
    };
    let remove = move |_| {
        if confirm("Unlink the tracking plan? This source's events are no longer validated.") {
            unlink.dispatch(());
        }
    };
    let pending = move || save.pending().get() || unlink.pending().get();

    view! {
        <form on:submit=submit>
            <div class="card-body stack">
                <ApiErrorAlert error=error.into()/>
                {match linked_to {
                    Some(linked) => Either::Left(linked),
                    None => Either::Right(view! { <p class="muted" data-testid="tp-unlinked">"Not linked: this source's events are not validated."</p> }),
                }}
                {no_plans.then(|| view! {
                    <p class="muted">"This workspace has no tracking plan yet. "<a href=ws.href("/tracking-plans")>"Tracking plans"</a></p>
                })}
                {(!no_plans).then(|| view! {
                    <div class="row wrap tp-pick">
                        <label class="field inline">
                            <span class="label">"Plan"</span>
                            <select data-testid="tp-plan" disabled=!can_edit on:change=move |ev| {
                                let id = event_target_value(&ev);
                                version.set(latest_of(&id));
                                plan.set(id);
                            }>
                                <option value="" selected=move || plan.get().is_empty()>"Choose a plan"</option>
                                {plans.get_value().into_iter().map(|p| {
                                    let id = p.id.clone();
                                    let label = if p.latest_version.is_some() { p.name } else { format!("{} (not published)", p.name) };
                                    view! { <option value=p.id disabled=p.latest_version.is_none() selected=move || plan.get() == id>{label}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                        <label class="field inline">
                            <span class="label">"Version"</span>
                            <select data-testid="tp-version" disabled=!can_edit on:change=move |ev| version.set(event_target_value(&ev).parse().ok())>
                                {move || {
                                    let latest = latest_of(&plan.get()).unwrap_or(0);
                                    (1..=latest).rev().map(|n| view! {
                                        <option value=n.to_string() selected=move || version.get() == Some(n)>
                                            {if n == latest { format!("{n} (latest)") } else { n.to_string() }}
                                        </option>
                                    }).collect_view()
                                }}
                            </select>
                        </label>
                    </div>
                    <div class="tp-settings-wrap"><table class="list tp-settings" data-testid="tp-settings">
                        <thead><tr>
                            <th>"When an event has…"</th>
                            {sections().map(|s| view! { <th>{if s == "global" { "All types" } else { s }}</th> }).collect_view()}
                        </tr></thead>
                        <tbody>
                            {SETTINGS.iter().enumerate().map(|(i, setting)| view! {
                                <tr>
                                    <td><div class="tp-setting">{setting.label}</div><div class="muted small">{setting.help}</div><code class="faint small">{setting.key}</code></td>
                                    {cells.with_value(|cells| cells.iter().filter(|(_, index, _)| *index == i).map(|(section, _, value)| {
                                        let value = *value;
                                        let global = *section == "global";
                                        let choices = setting.choices.iter().filter(move |(v, _)| global || !v.is_empty()).map(move |(v, label)| {
                                            view! { <option value=*v selected=move || value.get() == *v>{*label}</option> }
                                        }).collect_view();
                                        view! {
                                            <td>
                                                <select data-testid=format!("tp-setting-{section}-{}", setting.key) disabled=!can_edit
                                                    aria-label=format!("{}: {section}", setting.label)
                                                    on:change=move |ev| value.set(event_target_value(&ev))>
                                                    {(!global).then(|| view! { <option value="" selected=move || value.get().is_empty()>"As all types"</option> })}
                                                    {choices}
                                                </select>
                                            </td>
                                        }
                                    }).collect_view())}
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                })}
            </div>
            {(can_edit && !no_plans).then(|| view! {
                <div class="card-footer">
                    {has_link.then(|| view! { <button type="button" class="btn danger" data-testid="tp-unlink" on:click=remove disabled=pending>"Unlink"</button> })}
                    <button type="submit" class="btn primary" data-testid="tp-save" disabled=pending>{if has_link { "Save" } else { "Link plan" }}</button>
                </div>
            })}
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_is_always_written_out_and_types_only_override() {
        let owner = Owner::new();
        owner.set();
        let mut stored = BTreeMap::new();
        stored.insert(
            "global".to_owned(),
            TrackingPlanSettings {
                allow_unplanned_events: Some(Value::Bool(false)),
                ajv_options: Some(serde_json::json!({"strict": false})),
                ..Default::default()
            },
        );
        stored.insert(
            "track".to_owned(),
            TrackingPlanSettings {
                any_other_violation: Some("DROP".into()),
                ..Default::default()
            },
        );
        let cells = cells(&stored);
        assert_eq!(cells.len(), 6 * SETTINGS.len());
        let cell = |section: &str, key: &str| {
            cells
                .iter()
                .find(|(s, i, _)| *s == section && SETTINGS[*i].key == key)
                .map(|(_, _, v)| *v)
                .unwrap()
        };
        assert_eq!(
            cell("global", "allowUnplannedEvents").get_untracked(),
            "false"
        );
        assert_eq!(
            cell("global", "unplannedProperties").get_untracked(),
            "forward",
            "the default, shown"
        );
        assert_eq!(cell("track", "anyOtherViolation").get_untracked(), "drop");
        assert_eq!(cell("page", "anyOtherViolation").get_untracked(), "");
        cell("identify", "sendViolatedEventsTo").set("procerrors".into());

        let config = config_of(&cells, &stored);
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            serde_json::json!({
                "global": {
                    "allowUnplannedEvents": "false",
                    "unplannedProperties": "forward",
                    "anyOtherViolation": "forward",
                    "propagateValidationErrors": "true",
                    "ajvOptions": {"strict": false}
                },
                "identify": {"sendViolatedEventsTo": "procerrors"},
                "track": {"anyOtherViolation": "drop"}
            })
        );
        let fresh = config_of(&super::cells(&BTreeMap::new()), &BTreeMap::new());
        assert_eq!(fresh.len(), 1, "a new link: global only");
        assert_ne!(fresh["global"], TrackingPlanSettings::default());
    }
}
