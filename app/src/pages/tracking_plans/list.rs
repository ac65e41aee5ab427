//! `/w/:ws/tracking-plans`: the workspace's plans, a new one, or one learned from live traffic.

use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::api::sources::Source;
use crate::api::tracking_plans::{
    CreateTrackingPlan, ImportTrackingPlan, TrackingPlan, TrackingPlanSummary,
};
use crate::api::use_api;
use crate::api::workspaces::Role;
use crate::components::chart::minute_label;
use crate::components::layout::{error_view, PageHeader};
use crate::components::{Loading, TextField};
use crate::pages::auth::failed;
use crate::session::use_workspace;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Nothing,
    New,
    Import,
}

#[component]
pub fn PlansList() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let can_edit = ws.can(Role::Editor);
    let plans = Resource::new(|| (), {
        let path = ws.api("/tracking-plans");
        move |_| api.get::<Vec<TrackingPlanSummary>>(path.clone())
    });
    let open = RwSignal::new(Open::Nothing);
    view! {
        <Title text="Tracking plans"/>
        <PageHeader title="Tracking plans" subtitle="What your events must look like. Publish a version, link sources to it, and the data plane checks every event against it.">
            {can_edit.then(|| view! {
                <button type="button" class="btn" data-testid="tp-import-open" on:click=move |_| open.set(Open::Import)>"Import from live traffic"</button>
                <button type="button" class="btn primary" data-testid="tp-new-open" on:click=move |_| open.set(Open::New)>"New tracking plan"</button>
            })}
        </PageHeader>
        {move || match open.get() {
            Open::New => EitherOf3::A(view! { <NewPlan on_close=Callback::new(move |_| open.set(Open::Nothing))/> }),
            Open::Import => EitherOf3::B(view! { <ImportPlan on_close=Callback::new(move |_| open.set(Open::Nothing))/> }),
            Open::Nothing => EitherOf3::C(()),
        }}
        <Suspense fallback=Loading>
            {move || {
                let ws = use_workspace();
                Suspend::new(async move {
                    let plans = match plans.await {
                        Ok(plans) => plans,
                        Err(e) => return error_view(e),
                    };
                    if plans.is_empty() {
                        return view! {
                            <div class="card"><div class="empty" data-testid="tp-list-empty">
                                <h2>"No tracking plans yet"</h2>
                                <p>"A tracking plan says which events your sources send and what their properties look like. Start from scratch, or let Wheelhouse learn one from the events your data planes sent recently."</p>
                                {can_edit.then(|| view! { <button type="button" class="btn primary" on:click=move |_| open.set(Open::New)>"Create your first tracking plan"</button> })}
                            </div></div>
                        }
                        .into_any();
                    }
                    view! {
                        <div class="card">
                            <table class="list" data-testid="tp-list">
                                <thead><tr>
                                    <th>"Name"</th><th class="num">"Events"</th><th>"Latest version"</th><th class="num">"Linked sources"</th><th>"Updated"</th>
                                </tr></thead>
                                <tbody>
                                    {plans.into_iter().map(|p| view! {
                                        <tr class="clickable" data-testid="tp-list-row">
                                            <td>
                                                <a href=ws.href(&format!("/tracking-plans/{}", p.id))>{p.name.clone()}</a>
                                                {(!p.description.is_empty()).then(|| view! { <div class="muted small">{p.description.clone()}</div> })}
                                            </td>
                                            <td class="num">{p.event_count}</td>
                                            <td>
                                                {match p.latest_version {
                                                    Some(n) => Either::Left(view! { <span>{format!("Version {n}")}</span> }),
                                                    None => Either::Right(view! { <span class="faint">"Not published"</span> }),
                                                }}
                                                {(p.has_unpublished_changes && p.latest_version.is_some()).then(|| view! { " "<span class="badge warn">"Unpublished changes"</span> })}
                                            </td>
                                            <td class="num">{p.source_ids.len()}</td>
                                            <td class="muted nowrap">{minute_label(&p.updated_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                    .into_any()
                })
            }}
        </Suspense>
    }
}

#[component]
fn NewPlan(on_close: Callback<()>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let create = Action::new({
        let path = ws.api("/tracking-plans");
        move |body: &CreateTrackingPlan| {
            let (api, path, body) = (api.clone(), path.clone(), body.clone());
            async move { api.post::<_, TrackingPlan>(path, &body).await }
        }
    });
    let error = failed(create);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(plan)) = create.value().get() {
            navigate(
                &ws.href(&format!("/tracking-plans/{}", plan.id)),
                NavigateOptions::default(),
            );
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let description = description.get_untracked();
        create.dispatch(CreateTrackingPlan {
            name: name.get_untracked(),
            description: (!description.trim().is_empty()).then_some(description),
            events: Vec::new(),
        });
    };
    view! {
        <form class="card spaced-bottom" on:submit=submit data-testid="tp-new-form">
            <div class="card-header"><h2>"New tracking plan"</h2></div>
            <div class="card-body form">
                <TextField label="Name" field="name" value=name error=error required=true autofocus=true placeholder="Web app"/>
                <TextField label="Description" field="description" value=description error=error help="What it covers, for the people who link sources to it."/>
                {move || error.get().filter(|e| e.field.as_deref().is_none_or(|f| f != "name" && f != "description")).map(|e| view! { <div class="alert error" role="alert">{e.message}</div> })}
            </div>
            <div class="card-footer">
                <button type="button" class="btn" on:click=move |_| on_close.run(())>"Cancel"</button>
                <button type="submit" class="btn primary" data-testid="tp-create" disabled=move || create.pending().get()>"Create tracking plan"</button>
            </div>
        </form>
    }
}

/// What an import found nothing to learn from says (and the plan it created anyway, when it did).
const NOTHING_CAPTURED: &str =
    "No events were captured recently from these sources, so there is nothing to learn from.";

/// How to capture some.
const CAPTURE_HINT: &str = "Open Live events and keep it open while your data plane sends events (or run `wheelhouse simulate` against this Wheelhouse), then import again.";

/// The API's message as a sentence: capitalized, with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let first: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    let text = format!("{first}{}", chars.as_str());
    if text.ends_with('.') {
        text
    } else {
        text + "."
    }
}

#[component]
fn ImportPlan(on_close: Callback<()>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let sources = Resource::new(|| (), {
        let (api, path) = (api.clone(), ws.api("/sources"));
        move |_| api.get::<Vec<Source>>(path.clone())
    });
    let name = RwSignal::new("Learned from live traffic".to_owned());
    let chosen = RwSignal::new(Vec::<String>::new());
    let import = Action::new({
        let path = ws.api("/tracking-plans/import");
        move |body: &ImportTrackingPlan| {
            let (api, path, body) = (api.clone(), path.clone(), body.clone());
            async move { api.post::<_, TrackingPlan>(path, &body).await }
        }
    });
    let error = failed(import);
    // A plan created empty: nothing was captured.
    let empty = RwSignal::new(None::<TrackingPlan>);
    let navigate = use_navigate();
    Effect::new({
        let ws = ws.clone();
        move |_| {
            if let Some(Ok(plan)) = import.value().get() {
                if plan.events.is_empty() {
                    empty.set(Some(plan));
                } else {
                    navigate(
                        &ws.href(&format!("/tracking-plans/{}", plan.id)),
                        NavigateOptions::default(),
                    );
                }
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        empty.set(None);
        import.dispatch(ImportTrackingPlan {
            name: name.get_untracked(),
            description: None,
            source_ids: chosen.get_untracked(),
        });
    };
    let toggle = move |id: String, on: bool| {
        chosen.update(|c| {
            c.retain(|x| *x != id);
            if on {
                c.push(id);
            }
        })
    };
    view! {
        <form class="card spaced-bottom" on:submit=submit data-testid="tp-import-form">
            <div class="card-header"><h2>"Import from live traffic"</h2></div>
            <div class="card-body form">
                <p class="muted">
                    "Wheelhouse builds a draft from the events the live debugger captured recently: each track event name, and each identify, page, screen and group call, becomes an event of the plan, with the properties seen and their types. Nothing is published or linked: review the draft, then publish it."
                </p>
                <TextField label="Name" field="name" value=name error=error required=true/>
                <fieldset>
                    <legend>"Sources to learn from"</legend>
                    <Suspense fallback=Loading>
                        {move || Suspend::new(async move {
                            match sources.await {
                                Err(e) => EitherOf3::A(view! { <div class="alert error" role="alert">{e.message}</div> }),
                                Ok(list) if list.is_empty() => EitherOf3::B(view! { <p class="muted small">"This workspace has no sources yet."</p> }),
                                Ok(list) => EitherOf3::C(view! {
                                    <div class="tp-source-picks">
                                        {list.into_iter().map(|s| {
                                            let id = s.id.clone();
                                            view! {
                                                <label class="check">
                                                    <input type="checkbox" data-testid="tp-import-source" value=s.id.clone()
                                                        on:change=move |ev| toggle(id.clone(), event_target_checked(&ev))/>
                                                    {s.name.clone()}<span class="faint small">{s.source_type.clone()}</span>
                                                </label>
                                            }
                                        }).collect_view()}
                                    </div>
                                    <div class="help small muted">"None chosen: every source of the workspace."</div>
                                }),
                            }
                        })}
                    </Suspense>
                </fieldset>
                {move || error.get().filter(|e| e.field.as_deref() != Some("name")).map(|e| {
                    let nothing = e.status == 422 && e.field.as_deref() == Some("sourceIds");
                    view! {
                        <div class="alert warning" role="alert" data-testid="tp-import-error">
                            {nothing.then(|| view! { <p><strong>"Nothing to learn from yet."</strong></p> })}
                            <p>{sentence(&e.message)}</p>
                            {nothing.then(|| view! { <p class="small">{CAPTURE_HINT}</p> })}
                        </div>
                    }
                })}
                {move || empty.get().map(|plan| {
                    let href = ws.href(&format!("/tracking-plans/{}", plan.id));
                    view! {
                        <div class="alert warning" role="alert" data-testid="tp-import-empty">
                            <p>{NOTHING_CAPTURED}" "{CAPTURE_HINT}</p>
                            <p class="small">"The plan “"{plan.name.clone()}"” was created without events: "<a href=href>"open it"</a>" to add them by hand."</p>
                        </div>
                    }
                })}
            </div>
            <div class="card-footer">
                <button type="button" class="btn" on:click=move |_| on_close.run(())>"Cancel"</button>
                <button type="submit" class="btn primary" data-testid="tp-import" disabled=move || import.pending().get()>
                    {move || if import.pending().get() { "Learning…" } else { "Import" }}
                </button>
            </div>
        </form>
    }
}
