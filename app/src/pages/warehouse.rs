//! A warehouse's tab (`/w/:ws/destinations/:id/warehouse`, `/w/:ws/sources/:id/warehouse`): its permission
//! check (the steps arrive one by one while it runs, each failure with the statement that fixes it), how
//! often it is re-checked, its syncs (a chart per hour and the runs with their errors), and whether the
//! person gets its alert mail. Read in the browser once the page is hydrated: the steps are polled, the chart
//! is drawn there anyway. A lazy route, as the other tabs.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_params_map};
use leptos_router::{lazy_route, LazyRoute};

use super::live::{epoch_ms, DetailTabs};
use crate::api::warehouses::{
    AlertSubscription, ChangeSubscription, SyncHistory, Validation, ValidationSchedule,
    ValidationStarted, Validations,
};
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};
use crate::components::chart::{minute_label, thousands, ChartData, Layer, StackedBars};
use crate::components::layout::PageHeader;
use crate::components::{use_hydrated, Loading};
use crate::session::use_workspace;

const HOUR_MS: f64 = 3_600_000.0;

pub struct WarehouseRoute;

#[lazy_route]
impl LazyRoute for WarehouseRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <WarehousePage/> }.into_any()
    }
}

#[component]
fn WarehousePage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|m| m.get("id")).unwrap_or_default();
    let kind = if use_location()
        .pathname
        .with_untracked(|p| p.contains("/destinations/"))
    {
        "destinations"
    } else {
        "sources"
    };
    let hydrated = use_hydrated();
    move || {
        if hydrated.get() {
            Either::Left(view! { <WarehouseBody kind=kind id=id.clone()/> })
        } else {
            Either::Right(view! { <Loading/> })
        }
    }
}

#[component]
fn WarehouseBody(kind: &'static str, id: String) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let base = ws.api(&format!("/{kind}/{id}"));
    let name = LocalResource::new({
        let (api, base) = (api.clone(), base.clone());
        move || {
            let get = api.get::<serde_json::Value>(base.clone());
            async move {
                get.await
                    .ok()
                    .and_then(|v| v["name"].as_str().map(str::to_string))
                    .unwrap_or_default()
            }
        }
    });
    let list = if kind == "sources" {
        "Sources"
    } else {
        "Destinations"
    };
    let tabs = ws.href(&format!("/{kind}/{id}"));
    let list_href = ws.href(&format!("/{kind}"));
    view! {
        {move || name.get().map(|name| view! {
            <Title text=format!("{name}: warehouse")/>
            <div class="breadcrumbs"><a href=list_href.clone()>{list}</a>" / "{name.clone()}</div>
            <PageHeader title=name/>
        })}
        <DetailTabs base=tabs kind=kind warehouse=true/>
        <div class="stack">
            <ValidationCard base=base.clone()/>
            <SyncsCard base=base.clone()/>
            <AlertsCard base=base/>
        </div>
    }
}

/// The last validation, its steps as they finish, a button to run one, and the re-check interval.
#[component]
fn ValidationCard(base: String) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let can_edit = ws.can(Role::Editor);
    let current = RwSignal::new(None::<Validation>);
    let every = RwSignal::new(None::<u32>);
    let error = RwSignal::new(None::<String>);
    // The last one, once.
    spawn_local({
        let (api, base) = (api.clone(), base.clone());
        async move {
            match api.get::<Validations>(format!("{base}/validations")).await {
                Ok(list) => {
                    every.set(Some(list.recheck_every_hours));
                    // Unless one was started meanwhile (a click can beat this first read).
                    if current.with_untracked(Option::is_none) {
                        current.set(list.validations.into_iter().next());
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
        }
    });
    // While one runs, its steps are read twice a second.
    let poll = {
        let (api, ws) = (api.clone(), ws.clone());
        move || {
            let Some(running) = current.get_untracked().filter(|v| v.status == "running") else {
                return;
            };
            let (api, path) = (
                api.clone(),
                ws.api(&format!("/validations/{}", running.job_id)),
            );
            spawn_local(async move {
                if let Ok(latest) = api.get::<Validation>(path).await {
                    // Only if it is still the one shown (a newer one may have been started).
                    if current
                        .with_untracked(|c| c.as_ref().is_some_and(|c| c.job_id == latest.job_id))
                    {
                        current.set(Some(latest));
                    }
                }
            });
        }
    };
    #[cfg(feature = "hydrate")]
    if let Ok(tick) = set_interval_with_handle(poll, std::time::Duration::from_millis(500)) {
        on_cleanup(move || tick.clear());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = poll;
    let start = {
        let (api, base, ws) = (api.clone(), base.clone(), ws.clone());
        move |_| {
            let (api, base, ws) = (api.clone(), base.clone(), ws.clone());
            error.set(None);
            spawn_local(async move {
                match api
                    .post::<_, ValidationStarted>(format!("{base}/validate"), &())
                    .await
                {
                    Ok(started) => {
                        match api
                            .get::<Validation>(ws.api(&format!("/validations/{}", started.job_id)))
                            .await
                        {
                            Ok(validation) => current.set(Some(validation)),
                            Err(e) => error.set(Some(e.message)),
                        }
                    }
                    Err(e) => error.set(Some(e.message)),
                }
            });
        }
    };
    let change_schedule = {
        let (api, base) = (api.clone(), base.clone());
        move |ev: leptos::ev::Event| {
            let Ok(hours) = event_target_value(&ev).parse::<u32>() else {
                return;
            };
            let (api, base) = (api.clone(), base.clone());
            spawn_local(async move {
                match api
                    .put::<_, ValidationSchedule>(
                        format!("{base}/validation-schedule"),
                        &ValidationSchedule {
                            recheck_every_hours: hours,
                        },
                    )
                    .await
                {
                    Ok(saved) => every.set(Some(saved.recheck_every_hours)),
                    Err(e) => error.set(Some(e.message)),
                }
            });
        }
    };
    let running = move || current.with(|v| v.as_ref().is_some_and(|v| v.status == "running"));
    view! {
        <div class="card" data-testid="validation">
            <div class="card-header">
                <h2>"Permissions"</h2>
                <span class="hint">"What the credentials may do in the warehouse, checked without changing anything outside its own schema"</span>
            </div>
            <div class="card-body">
                {move || error.get().map(|e| view! { <div class="alert error" role="alert">{e}</div> })}
                {move || match current.get() {
                    None => Either::Left(view! { <p class="muted" data-testid="validation-none">"Not checked yet."</p> }),
                    Some(validation) => Either::Right(view! { <ValidationSteps validation=validation/> }),
                }}
            </div>
            <div class="card-footer">
                {can_edit.then(|| view! {
                    <button type="button" class="btn primary" data-testid="validate" on:click=start.clone()
                        disabled=running>
                        {move || if running() { "Checking…" } else { "Check permissions" }}
                    </button>
                })}
                <label class="inline">
                    "Check again "
                    <select data-testid="recheck" on:change=change_schedule disabled=!can_edit
                        prop:value=move || every.get().map(|h| h.to_string()).unwrap_or_default()>
                        {[(6, "every 6 hours"), (12, "every 12 hours"), (24, "daily"), (168, "weekly"), (0, "never")]
                            .into_iter()
                            .map(|(h, label)| view! { <option value=h.to_string()>{label}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
        </div>
    }
}

#[component]
fn ValidationSteps(validation: Validation) -> impl IntoView {
    let summary = match validation.status.as_str() {
        "running" => "Checking…".to_string(),
        "passed" => "Every check passed.".to_string(),
        _ => "A check failed.".to_string(),
    };
    let when = minute_label(
        validation
            .finished_at
            .as_deref()
            .unwrap_or(&validation.created_at),
    );
    view! {
        <p data-testid="validation-status" data-status=validation.status.clone() data-job=validation.job_id.clone()
            data-cause=validation.cause.clone()>
            <strong>{summary}</strong>" "<span class="muted">{format!("{} ({})", when, validation.cause)}</span>
        </p>
        <ol class="validation-steps" data-testid="validation-steps">
            {validation.steps.into_iter().map(|step| view! {
                <li class="validation-step" data-status=step.status.clone() data-testid="validation-step">
                    <span class=format!("badge step-{}", step.status)>{step.status.clone()}</span>" "
                    <strong class="step-name">{step.name.clone()}</strong>
                    {step.duration_ms.map(|ms| view! { <span class="muted">{format!(" {ms} ms")}</span> })}
                    {step.reason.map(|r| view! { <div class="step-reason">{r}</div> })}
                    {step.remediation.map(|r| view! {
                        <div class="step-fix">"To fix it:"<pre data-testid="remediation">{r}</pre></div>
                    })}
                </li>
            }).collect_view()}
        </ol>
    }
}

/// The runs of the last 7 days: per hour on a chart, and listed with their errors.
#[component]
fn SyncsCard(base: String) -> impl IntoView {
    let api = use_api();
    let history = LocalResource::new(move || api.get::<SyncHistory>(format!("{base}/syncs")));
    let data = Signal::derive(move || match history.get() {
        Some(Ok(history)) => chart(&history),
        _ => ChartData::default(),
    });
    view! {
        <div class="card" data-testid="syncs">
            <div class="card-header">
                <h2>"Syncs"</h2>
                {move || history.get().and_then(Result::ok).map(|h| view! {
                    <span class=format!("badge health-{}", h.health) data-testid="sync-health">{h.health.clone()}</span>
                })}
            </div>
            <div class="chart-body">
                <StackedBars data=data label="Syncs per hour over the last 7 days, by outcome" test_id="syncs-chart"/>
            </div>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(history) => Either::Left(runs(history)),
                        Err(e) => Either::Right(view! { <div class="card-body"><div class="alert error" role="alert">{e.message}</div></div> }),
                    }
                })}
            </Transition>
        </div>
    }
}

fn chart(history: &SyncHistory) -> ChartData {
    let times: Vec<f64> = history
        .hours
        .iter()
        .filter_map(|h| epoch_ms(&h.hour))
        .collect();
    if times.len() != history.hours.len() || times.is_empty() {
        return ChartData::default();
    }
    let layer = |label: &str,
                 color: &'static str,
                 count: fn(&crate::api::warehouses::SyncHour) -> u64| Layer {
        label: label.into(),
        color,
        counts: history.hours.iter().map(|h| count(h) as f64).collect(),
    };
    ChartData {
        times,
        step_ms: HOUR_MS,
        layers: vec![
            layer("succeeded", "#2f9e44", |h| h.succeeded),
            layer("failed", "#e03131", |h| h.failed),
            layer("running", "#868e96", |h| h.running),
        ],
    }
}

fn runs(history: SyncHistory) -> impl IntoView {
    if history.runs.is_empty() {
        return Either::Left(view! {
            <div class="card-body"><p class="muted">"No sync reported in the last 7 days. Data planes report them over their websocket, or through rudder-server's reporting."</p></div>
        });
    }
    let since = history.failing_since.map(|s| view! {
        <div class="card-body"><div class="alert error" role="alert">{format!("Failing since {}.", minute_label(&s))}</div></div>
    });
    Either::Right(view! {
        {since}
        <table class="list" data-testid="sync-runs">
            <thead><tr><th>"Status"</th><th>"Started"</th><th>"Finished"</th><th>"Rows"</th><th>"Error"</th></tr></thead>
            <tbody>
                {history.runs.into_iter().map(|run| view! {
                    <tr data-status=run.status.clone() data-run=run.run_id.clone()>
                        <td><span class=format!("badge run-{}", run.status)>{run.status.clone()}</span></td>
                        <td>{minute_label(&run.started_at)}</td>
                        <td>{run.finished_at.as_deref().map(minute_label).unwrap_or_default()}</td>
                        <td>{run.rows.map(|r| thousands(r as i64)).unwrap_or_default()}</td>
                        <td class="error-text">{run.error.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    })
}

/// Whether the person gets this warehouse's alert mail.
#[component]
fn AlertsCard(base: String) -> impl IntoView {
    let api = use_api();
    let path = format!("{base}/alerts");
    let subscription = RwSignal::new(None::<AlertSubscription>);
    let error = RwSignal::new(None::<ApiError>);
    spawn_local({
        let (api, path) = (api.clone(), path.clone());
        async move {
            match api.get::<AlertSubscription>(path).await {
                Ok(s) => subscription.set(Some(s)),
                Err(e) => error.set(Some(e)),
            }
        }
    });
    let toggle = move |ev: leptos::ev::Event| {
        let subscribed = event_target_checked(&ev);
        let (api, path) = (api.clone(), path.clone());
        spawn_local(async move {
            match api
                .put::<_, AlertSubscription>(
                    path,
                    &ChangeSubscription {
                        subscribed: Some(subscribed),
                    },
                )
                .await
            {
                Ok(s) => subscription.set(Some(s)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <div class="card" data-testid="alerts">
            <div class="card-header"><h2>"Alerts"</h2></div>
            <div class="card-body">
                {move || error.get().map(|e| view! { <div class="alert error" role="alert">{e.message}</div> })}
                {move || subscription.get().map(|s| view! {
                    <label class="checkbox">
                        <input type="checkbox" data-testid="subscribe" prop:checked=s.subscribed on:change=toggle.clone()/>
                        " Email me when its syncs or permission checks start failing, once a day while they fail, and when they recover"
                    </label>
                    <p class="hint">{if s.source == "default" {
                        "By default, admins and owners get these alerts and others do not."
                    } else {
                        "You chose this for this warehouse."
                    }}</p>
                    {s.muted.then(|| view! {
                        <div class="alert" role="status">"You muted all alert mail in your account's notification settings."</div>
                    })}
                })}
            </div>
        </div>
    }
}
