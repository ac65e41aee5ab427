//! `/w/:ws/tracking-plans/:tp`: a plan's header (name, description, latest version, publish, delete) and its
//! tabs: the draft's events (the editor), its versions (read-only views and diffs), and the checks against
//! real traffic (`preview`, `impact`, `violations`).

use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::NavigateOptions;
use serde_json::json;

use super::diff::VersionsTab;
use super::event_editor::{pattern_problem, EventCard, EventSlot};
use super::impact::ImpactPreview;
use super::preview::ValidatePreview;
use super::schema_model::EventForm;
use super::violations::ViolationCounts;
use crate::api::tracking_plans::{
    PlanEvent, Published, TrackingPlan, UpdateTrackingPlan, EVENT_TYPES,
};
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};
use crate::components::layout::error_view;
use crate::components::{use_toast, Loading, TextField};
use crate::pages::confirm;
use crate::session::use_workspace;

/// The tabs: their `?tab=` and label.
const TABS: [(&str, &str); 5] = [
    ("events", "Events"),
    ("versions", "Versions"),
    ("preview", "Check an event"),
    ("impact", "Impact"),
    ("violations", "Violations"),
];

/// The index of the event an API error names (`events[3].rules` → 3).
pub fn event_index(field: &str) -> Option<usize> {
    let rest = field.strip_prefix("events[")?;
    rest[..rest.find(']')?].parse().ok()
}

/// `/w/:ws/tracking-plans/:tp`.
#[component]
pub fn PlanPage() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let params = use_params_map();
    let tp = Memo::new(move |_| params.with(|m| m.get("tp")).unwrap_or_default());
    let reload = RwSignal::new(0u32);
    let plan = Resource::new(move || (tp.get(), reload.get()), {
        let ws = ws.clone();
        move |(tp, _)| api.get::<TrackingPlan>(ws.api(&format!("/tracking-plans/{tp}")))
    });
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match plan.await {
                    Ok(plan) => view! { <PlanView plan=plan reload=reload/> }.into_any(),
                    Err(e) => error_view(e),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanView(plan: TrackingPlan, reload: RwSignal<u32>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let toast = use_toast();
    let navigate = use_navigate();
    let can_edit = ws.can(Role::Editor);
    let base = ws.api(&format!("/tracking-plans/{}", plan.id));
    let href = ws.href(&format!("/tracking-plans/{}", plan.id));
    let list_href = ws.href("/tracking-plans");
    let plan_id = plan.id.clone();

    // What the header shows, and the revision the next change is made on.
    let header = RwSignal::new(plan.clone());
    // The draft's events as saved, and as being edited.
    let saved = RwSignal::new(plan.events.clone());
    let slots = RwSignal::new(EventSlot::all(&plan.events));
    let current = Memo::new(move |_| {
        slots.with(|slots| {
            slots
                .iter()
                .map(|slot| slot.form.with(EventForm::to_plan_event))
                .collect::<Vec<PlanEvent>>()
        })
    });
    let dirty = Memo::new(move |_| saved.with(|saved| current.with(|now| now != saved)));
    let error = RwSignal::new(None::<ApiError>);
    let blocked = RwSignal::new(None::<String>);
    let reload_page = Callback::new(move |_| reload.update(|n| *n += 1));

    // Saving the events.
    let sent = StoredValue::new(Vec::<PlanEvent>::new());
    let save = Action::new({
        let (api, base) = (api.clone(), base.clone());
        move |body: &UpdateTrackingPlan| {
            let (api, base, body) = (api.clone(), base.clone(), body.clone());
            async move { api.patch::<_, TrackingPlan>(base, &body).await }
        }
    });
    Effect::new(move |_| match save.value().get() {
        Some(Ok(plan)) => {
            error.set(None);
            if sent.with_value(|sent| sent != &plan.events) {
                // The server stored something else than what was sent (normalized): show what it has.
                slots.set(EventSlot::all(&plan.events));
            }
            saved.set(plan.events.clone());
            header.set(plan);
            toast.show("Saved.");
        }
        Some(Err(e)) => {
            if let Some(slot) = e
                .field
                .as_deref()
                .and_then(event_index)
                .and_then(|i| slots.with_untracked(|s| s.get(i).copied()))
            {
                slot.error.set(Some(e.message.clone()));
                slot.open.set(true);
            }
            error.set(Some(e));
        }
        None => {}
    });
    let do_save = move || {
        blocked.set(None);
        error.set(None);
        let all = slots.get_untracked();
        let mut problems = 0;
        for slot in &all {
            slot.error.set(None);
            let has = slot.raw_error.with_untracked(Option::is_some)
                || slot
                    .form
                    .with_untracked(|f| !f.problems_with(&pattern_problem).is_empty());
            if has {
                problems += 1;
                slot.open.set(true);
            }
        }
        if problems > 0 {
            blocked.set(Some(if problems == 1 {
                "Not saved: an event has a problem to fix first (marked below).".into()
            } else {
                format!("Not saved: {problems} events have problems to fix first (marked below).")
            }));
            return;
        }
        let events = current.get_untracked();
        sent.set_value(events.clone());
        save.dispatch(UpdateTrackingPlan {
            events: Some(events),
            revision: Some(header.with_untracked(|h| h.revision.clone())),
            ..Default::default()
        });
    };
    let discard = move |_| {
        blocked.set(None);
        error.set(None);
        slots.set(EventSlot::all(&saved.get_untracked()));
    };

    // Name and description.
    let editing = RwSignal::new(false);
    let name = RwSignal::new(plan.name.clone());
    let description = RwSignal::new(plan.description.clone());
    let rename = Action::new({
        let (api, base) = (api.clone(), base.clone());
        move |body: &UpdateTrackingPlan| {
            let (api, base, body) = (api.clone(), base.clone(), body.clone());
            async move { api.patch::<_, TrackingPlan>(base, &body).await }
        }
    });
    let rename_error = Signal::derive(move || rename.value().get().and_then(Result::err));
    Effect::new(move |_| {
        if let Some(Ok(plan)) = rename.value().get() {
            editing.set(false);
            header.update(|h| {
                h.name = plan.name;
                h.description = plan.description;
                h.revision = plan.revision;
                h.updated_at = plan.updated_at;
            });
            toast.show("Saved.");
        }
    });
    let submit_rename = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        rename.dispatch(UpdateTrackingPlan {
            name: Some(name.get_untracked()),
            description: Some(description.get_untracked()),
            revision: Some(header.with_untracked(|h| h.revision.clone())),
            ..Default::default()
        });
    };
    let start_editing = move |_| {
        header.with_untracked(|h| {
            name.set(h.name.clone());
            description.set(h.description.clone());
        });
        editing.set(true);
    };

    // Publish.
    let publish = Action::new({
        let (api, base) = (api.clone(), base.clone());
        move |_: &()| {
            let (api, base) = (api.clone(), base.clone());
            async move {
                let published = api
                    .post::<_, Published>(format!("{base}/publish"), &json!({}))
                    .await?;
                let plan = api.get::<TrackingPlan>(base).await?;
                Ok::<_, ApiError>((published, plan))
            }
        }
    });
    Effect::new(move |_| match publish.value().get() {
        Some(Ok((published, plan))) => {
            error.set(None);
            header.update(|h| {
                h.latest_version = plan.latest_version.or(Some(published.version));
                h.has_unpublished_changes = plan.has_unpublished_changes;
                h.revision = plan.revision;
                h.links = plan.links;
                h.updated_at = plan.updated_at;
            });
            toast.show(format!("Published version {}.", published.version));
        }
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let latest = Memo::new(move |_| header.with(|h| h.latest_version));
    let unpublished = Memo::new(move |_| header.with(|h| h.has_unpublished_changes));
    let publish_click = move |_| {
        let next = latest.get_untracked().unwrap_or(0) + 1;
        if confirm(&format!(
            "Publish the draft as version {next}? Versions never change: sources linked to an earlier version keep it until they are linked to this one."
        )) {
            publish.dispatch(());
        }
    };

    // Delete.
    let delete = Action::new({
        let (api, base) = (api.clone(), base.clone());
        move |_: &()| {
            let (api, base) = (api.clone(), base.clone());
            async move { api.delete(base).await }
        }
    });
    Effect::new({
        let list_href = list_href.clone();
        move |_| match delete.value().get() {
            Some(Ok(())) => {
                toast.show("Tracking plan deleted.");
                navigate(&list_href, NavigateOptions::default());
            }
            Some(Err(e)) => error.set(Some(e)),
            None => {}
        }
    });
    let delete_click = move |_| {
        let name = header.with_untracked(|h| h.name.clone());
        if confirm(&format!(
            "Delete the tracking plan “{name}” with all its versions? This cannot be undone."
        )) {
            delete.dispatch(());
        }
    };

    let query = use_query_map();
    let tab = Memo::new(move |_| {
        query
            .with(|q| q.get("tab"))
            .filter(|t| TABS.iter().any(|(key, _)| key == t))
            .unwrap_or_else(|| "events".into())
    });
    let tab_href = {
        let href = href.clone();
        move |key: &str| {
            if key == "events" {
                href.clone()
            } else {
                format!("{href}?tab={key}")
            }
        }
    };
    let ws_id = ws.id.clone();
    let content = move || {
        let tab = tab.get();
        if tab == "events" {
            // Not again when a version is published: the cards keep their state.
            return events_tab(
                slots,
                can_edit,
                dirty,
                save.pending(),
                blocked,
                do_save,
                discard,
            )
            .into_any();
        }
        let latest = latest.get();
        let unpublished = untrack(move || unpublished.get());
        let (ws, plan_id) = (ws_id.clone(), plan_id.clone());
        match tab.as_str() {
            "versions" => view! {
                <VersionsTab base=base.clone() latest_version=latest has_unpublished_changes=unpublished unsaved=dirty.into()/>
            }
            .into_any(),
            "preview" => view! { <ValidatePreview ws=ws plan_id=plan_id latest_version=latest/> }.into_any(),
            "impact" => view! { <ImpactPreview ws=ws plan_id=plan_id latest_version=latest/> }.into_any(),
            _ => view! { <ViolationCounts ws=ws plan_id=plan_id latest_version=latest/> }.into_any(),
        }
    };

    view! {
        <Title text=move || header.with(|h| h.name.clone())/>
        <div class="breadcrumbs"><a href=list_href.clone()>"Tracking plans"</a>" / "{move || header.with(|h| h.name.clone())}</div>
        <div class="page-header">
            <div>
                <h1 data-testid="tp-name">{move || header.with(|h| h.name.clone())}</h1>
                <div class="subtitle" data-testid="tp-description">
                    {move || header.with(|h| if h.description.is_empty() { "No description.".to_owned() } else { h.description.clone() })}
                </div>
                <div class="tp-facts">
                    <span class="badge tp-version" data-testid="tp-latest-version">
                        {move || match latest.get() { Some(n) => format!("Version {n}"), None => "Not published".to_owned() }}
                    </span>
                    {move || (unpublished.get() && latest.get().is_some()).then(|| view! { <span class="badge warn" data-testid="tp-unpublished">"Unpublished changes"</span> })}
                    <span class="muted small">{move || match header.with(|h| h.links.len()) {
                        0 => "No source is linked to it.".to_owned(),
                        1 => "1 source is linked to a version.".to_owned(),
                        n => format!("{n} sources are linked to a version."),
                    }}</span>
                </div>
            </div>
            {can_edit.then(|| view! {
                <div class="row">
                    <button type="button" class="btn" data-testid="tp-edit-details" on:click=start_editing>"Edit details"</button>
                    <button type="button" class="btn primary" data-testid="tp-publish"
                        title=move || if dirty.get() { "Save your changes first." } else if saved.with(Vec::is_empty) { "Add events first." } else if !unpublished.get() { "Nothing changed since the latest version." } else { "Publish the saved draft as a new version." }
                        disabled=move || !unpublished.get() || dirty.get() || saved.with(Vec::is_empty) || publish.pending().get()
                        on:click=publish_click>"Publish"</button>
                    <button type="button" class="btn danger" data-testid="tp-delete" on:click=delete_click>"Delete"</button>
                </div>
            })}
        </div>
        {move || editing.get().then(|| view! {
            <form class="card spaced-bottom" on:submit=submit_rename data-testid="tp-details-form">
                <div class="card-body form">
                    <TextField label="Name" field="name" value=name error=rename_error required=true/>
                    <TextField label="Description" field="description" value=description error=rename_error/>
                    {move || rename_error.get().filter(|e| e.field.is_none() || e.is_stale()).map(|e| view! { <div class="alert error" role="alert">{e.message}</div> })}
                </div>
                <div class="card-footer">
                    <button type="button" class="btn" on:click=move |_| editing.set(false)>"Cancel"</button>
                    <button type="submit" class="btn primary" disabled=move || rename.pending().get()>"Save"</button>
                </div>
            </form>
        })}
        {move || error.get().map(|e| {
            if e.is_stale() {
                Either::Left(view! {
                    <div class="alert warning stale spaced-bottom" role="alert">
                        <span>"Changed by someone else since you opened this page. Your changes are still in the form; reload to see theirs (yours will be discarded), then make your change again."</span>
                        <button type="button" class="btn small" on:click=move |_| reload_page.run(())>"Reload"</button>
                    </div>
                })
            } else {
                let message = match e.field.as_deref().and_then(event_index) {
                    Some(i) => format!("Not saved: event {} has a problem (shown on the event below).", i + 1),
                    None => e.message,
                };
                Either::Right(view! { <div class="alert error spaced-bottom" role="alert" data-testid="tp-error">{message}</div> })
            }
        })}
        <nav class="tabs" aria-label="Sections">
            {TABS.into_iter().map(|(key, label)| view! {
                <a href=tab_href(key) data-testid=format!("tp-tab-{key}")
                    aria-current=move || (tab.get() == key).then_some("page")>
                    {label}
                    {(key == "events").then(|| view! { <span class="tp-count">{move || slots.with(Vec::len)}</span> })}
                </a>
            }).collect_view()}
        </nav>
        {content}
    }
}

/// The Events tab: the event cards, "Add event", and the bar that saves the draft.
fn events_tab(
    slots: RwSignal<Vec<EventSlot>>,
    can_edit: bool,
    dirty: Memo<bool>,
    saving: Memo<bool>,
    blocked: RwSignal<Option<String>>,
    do_save: impl Fn() + Copy + Send + Sync + 'static,
    discard: impl Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // The types other than `track` the plan has rules for (one each: the data plane looks them up by type).
    let taken = Memo::new(move |_| {
        slots.with(|slots| {
            slots
                .iter()
                .filter_map(|s| {
                    s.form
                        .with(|f| (!f.is_track()).then(|| f.event_type.clone()))
                })
                .collect::<Vec<String>>()
        })
    });
    let new_type = RwSignal::new("track".to_owned());
    let add = move |_| {
        let t = new_type.get_untracked();
        slots.update(|s| s.push(EventSlot::new(EventForm::new(&t), true, true)));
        if t != "track" {
            new_type.set("track".into());
        }
    };
    let expand = move |open: bool| {
        slots.with_untracked(|s| {
            for slot in s {
                slot.open.set(open);
            }
        })
    };
    view! {
        <div class="tp-events">
            {move || slots.with(Vec::is_empty).then(|| view! {
                <div class="card"><div class="empty compact" data-testid="tp-no-events">
                    <h2>"No events yet"</h2>
                    <p>"Add the events your sources send: one per track event name, and the rules of identify, page, screen and group calls. Each is a JSON Schema of the message, edited here as a form."</p>
                </div></div>
            })}
            {move || (slots.with(Vec::len) > 1).then(|| view! {
                <div class="row tp-expand">
                    <span class="spacer"></span>
                    <button type="button" class="link small" on:click=move |_| expand(true)>"Open all"</button>
                    <span class="faint">"·"</span>
                    <button type="button" class="link small" on:click=move |_| expand(false)>"Close all"</button>
                </div>
            })}
            <For
                each=move || slots.get()
                key=|slot| slot.key
                children=move |slot| {
                    let key = slot.key;
                    let remove = Callback::new(move |_| slots.update(|s| s.retain(|x| x.key != key)));
                    let others = Signal::derive(move || {
                        let own = slot.form.with(|f| f.event_type.clone());
                        taken.get().into_iter().filter(|t| *t != own).collect::<Vec<_>>()
                    });
                    view! { <EventCard event=slot editable=can_edit on_remove=remove taken=others/> }
                }
            />
            {can_edit.then(|| view! {
                <div class="tp-add-event">
                    <select aria-label="Type of the new event" data-testid="tp-new-event-type"
                        on:change=move |ev| new_type.set(event_target_value(&ev))>
                        {EVENT_TYPES.into_iter().map(|t| view! {
                            <option value=t selected=move || new_type.get() == t
                                disabled=move || t != "track" && taken.with(|taken| taken.iter().any(|x| x == t))>{t}</option>
                        }).collect_view()}
                    </select>
                    <button type="button" class="btn" data-testid="tp-add-event" on:click=add>"+ Add event"</button>
                    <span class="muted small">"One event per track name; one set of rules each for identify, page, screen and group."</span>
                </div>
                <div class="tp-savebar" class:dirty=move || dirty.get() data-testid="tp-savebar">
                    <span class="tp-save-state">{move || if dirty.get() { "Unsaved changes" } else { "All changes saved" }}</span>
                    {move || blocked.get().map(|b| view! { <span class="error small" role="alert" data-testid="tp-blocked">{b}</span> })}
                    <span class="spacer"></span>
                    <button type="button" class="btn" data-testid="tp-discard" disabled=move || !dirty.get() on:click=discard>"Discard changes"</button>
                    <button type="button" class="btn primary" data-testid="tp-save"
                        disabled=move || !dirty.get() || saving.get() on:click=move |_| do_save()>
                        {move || if saving.get() { "Saving…" } else { "Save draft" }}
                    </button>
                </div>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_event_they_are_about() {
        assert_eq!(event_index("events[3].rules"), Some(3));
        assert_eq!(event_index("events[12]"), Some(12));
        assert_eq!(event_index("events[x].rules"), None);
        assert_eq!(event_index("name"), None);
    }
}
