//! A workspace's home: what to do next while it is being set up, then its pipelines at a glance, and which
//! destinations were busiest and failed most over the last 24 hours.
//!
//! A lazy route: the page everyone lands on after signing in is not in the first load's wasm (which has a
//! size budget), its chunk is preloaded by the page the server renders. The volume summary is read as JSON
//! values rather than with `VolumeSummary`'s derived deserializer (several kilobytes); the names read are
//! `DestinationVolume`'s (the test checks them).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};
use serde_json::Value;

use crate::api::destinations::Destination;
use crate::api::sources::Source;
use crate::api::tokens::DataPlaneToken;
use crate::api::volume::volume_query;
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};
use crate::components::chart::{percent, rfc3339, thousands};
use crate::components::layout::{error_view, PageHeader};
use crate::components::Loading;
use crate::session::use_workspace;

use super::live::now_ms;
use super::volume::NO_DATA;

/// The route of the overview, loaded lazily: its code is a wasm chunk of its own.
pub struct OverviewRoute;

#[lazy_route]
impl LazyRoute for OverviewRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <Overview/> }.into_any()
    }
}

#[component]
pub fn Overview() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let is_admin = ws.can(Role::Admin);
    let data = Resource::new(|| (), {
        let ws = ws.clone();
        move |_| {
            let (api, ws) = (api.clone(), ws.clone());
            async move {
                let sources = api.get::<Vec<Source>>(ws.api("/sources")).await?;
                let destinations = api.get::<Vec<Destination>>(ws.api("/destinations")).await?;
                let data_planes = if is_admin {
                    api.get::<Vec<DataPlaneToken>>(ws.api("/data-plane-tokens"))
                        .await?
                        .len()
                } else {
                    0
                };
                Ok::<_, crate::api::ApiError>((sources, destinations, data_planes))
            }
        }
    });
    let title = ws.name.clone();
    view! {
        <Title text=title.clone()/>
        <PageHeader title=title subtitle="Overview"/>
        <Suspense fallback=Loading>
            {move || {
                Suspend::new(async move {
                    let (sources, destinations, data_planes) = match data.await {
                        Ok(d) => d,
                        Err(e) => return error_view(e),
                    };
                    let connected = sources.iter().any(|s| !s.destination_ids.is_empty());
                    let all_done = !sources.is_empty() && !destinations.is_empty() && connected && (!is_admin || data_planes > 0);
                    view! {
                        {(!all_done).then(|| view! {
                            <GettingStarted
                                has_source=!sources.is_empty()
                                has_destination=!destinations.is_empty()
                                connected=connected
                                has_data_plane={data_planes > 0}
                            />
                        })}
                        <Pipelines sources=sources destinations=destinations/>
                    }
                    .into_any()
                })
            }}
        </Suspense>
        <BusiestDestinations/>
    }
}

#[component]
fn GettingStarted(
    has_source: bool,
    has_destination: bool,
    connected: bool,
    has_data_plane: bool,
) -> impl IntoView {
    let ws = use_workspace();
    let can_edit = ws.can(Role::Editor);
    let is_admin = ws.can(Role::Admin);
    let step = move |done: bool| if done { "done" } else { "" };
    view! {
        <div class="card" data-testid="getting-started">
            <div class="card-header"><h2>"Get your first events flowing"</h2><span class="hint">"Four steps"</span></div>
            <ol class="steps">
                <li class=step(has_source)>
                    <div class="step-body">
                        <h3>"Add a source"</h3>
                        <p>"Where events come from: the JavaScript SDK on your site, a mobile SDK, a server library, a webhook."</p>
                    </div>
                    {(can_edit && !has_source).then(|| view! { <a class="btn primary small" href=ws.href("/sources/new")>"Add a source"</a> })}
                </li>
                <li class=step(has_destination)>
                    <div class="step-body">
                        <h3>"Add a destination"</h3>
                        <p>"Where events go: analytics, advertising and marketing tools, streams, storage, warehouses."</p>
                    </div>
                    {(can_edit && !has_destination).then(|| view! { <a class="btn small" href=ws.href("/destinations/new")>"Add a destination"</a> })}
                </li>
                <li class=step(connected)>
                    <div class="step-body">
                        <h3>"Connect them"</h3>
                        <p>"Open a destination and choose which sources send to it."</p>
                    </div>
                    {(can_edit && has_destination && !connected).then(|| view! { <a class="btn small" href=ws.href("/destinations")>"Connect"</a> })}
                </li>
                <li class=step(has_data_plane)>
                    <div class="step-body">
                        <h3>"Point a data plane at Wheelhouse"</h3>
                        <p>"Create a data-plane token and start rudder-server with it: it pulls this workspace's config from here."</p>
                    </div>
                    {(is_admin && !has_data_plane).then(|| view! { <a class="btn small" href=ws.href("/settings/data-planes")>"Create a token"</a> })}
                </li>
            </ol>
        </div>
    }
}

#[component]
fn Pipelines(sources: Vec<Source>, destinations: Vec<Destination>) -> impl IntoView {
    let ws = use_workspace();
    if sources.is_empty() {
        return ().into_any();
    }
    let name_of = move |id: &String| {
        destinations
            .iter()
            .find(|d| &d.id == id)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    view! {
        <div class="card">
            <div class="card-header"><h2>"Pipelines"</h2><span class="hint">"Each source and where its events go"</span></div>
            <table class="list">
                <thead><tr><th>"Source"</th><th>"Status"</th><th>"Destinations"</th></tr></thead>
                <tbody>
                    {sources.into_iter().map(|s| {
                        let targets = s.destination_ids.iter().map(&name_of).collect::<Vec<_>>();
                        view! {
                            <tr>
                                <td><a href=ws.href(&format!("/sources/{}", s.id))>{s.name.clone()}</a></td>
                                <td>{if s.enabled { view! { <span class="badge on">"Enabled"</span> } } else { view! { <span class="badge off">"Disabled"</span> } }}</td>
                                <td>{if targets.is_empty() { view! { <span class="faint">"Not connected"</span> }.into_any() } else { targets.join(", ").into_any() }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The destinations of a volume summary (`DestinationVolume`s as JSON): (id, name, delivered, failed,
/// failure rate).
fn destination_volumes(summary: &Value) -> Vec<(String, String, i64, i64, f64)> {
    let Some(Value::Array(destinations)) = summary.get("destinations") else {
        return Vec::new();
    };
    destinations
        .iter()
        .map(|d| {
            let text = |key| {
                d.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let count = |key| d.get(key).and_then(Value::as_i64).unwrap_or(0);
            let rate = d.get("failureRate").and_then(Value::as_f64).unwrap_or(0.0);
            (
                text("id"),
                text("name"),
                count("delivered"),
                count("failed"),
                rate,
            )
        })
        .collect()
}

/// The five busiest destinations (delivered and failed events) and the five with most failed events, over
/// the last 24 hours; each leads to its volume tab.
#[component]
fn BusiestDestinations() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let summary = Resource::new(|| (), {
        let path = ws.api("/volume/summary");
        move |_| {
            let now = now_ms();
            let query = volume_query(&rfc3339(now - 86_400_000.0), &rfc3339(now), None, &[]);
            api.get::<Value>(format!("{path}?{query}"))
        }
    });
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let workspace_href = ws.href("");
                Suspend::new(async move { volume_cards(summary.await, workspace_href) })
            }}
        </Suspense>
    }
}

/// The two cards, from the summary (or why there is none).
fn volume_cards(summary: Result<Value, ApiError>, workspace_href: String) -> AnyView {
    // Without the summary the rest of the page still stands: the cards say why they are empty.
    let (mut busiest, note) = match summary {
        Ok(summary) => (destination_volumes(&summary), NO_DATA.to_owned()),
        Err(e) => (Vec::new(), e.message),
    };
    busiest.retain(|d| d.2 + d.3 > 0);
    let mut failing = busiest.clone();
    busiest.sort_by_key(|d| std::cmp::Reverse(d.2 + d.3));
    busiest.truncate(5);
    failing.retain(|d| d.3 > 0);
    failing.sort_by_key(|d| std::cmp::Reverse(d.3));
    failing.truncate(5);
    let failing_note = if busiest.is_empty() {
        note.clone()
    } else {
        "No failed events in the last 24 hours.".to_owned()
    };
    let link = move |id: &str| format!("{workspace_href}/destinations/{id}/volume");
    view! {
        <div class="grid-2 overview-volume">
            <div class="card" data-testid="busiest-destinations">
                <div class="card-header"><h2>"Busiest destinations"</h2><span class="hint">"Last 24 hours"</span></div>
                {if busiest.is_empty() {
                    view! { <div class="card-body muted">{note}</div> }.into_any()
                } else {
                    view! {
                        <table class="list">
                            <thead><tr><th>"Destination"</th><th class="num">"Delivered"</th><th class="num">"Failed"</th></tr></thead>
                            <tbody>
                                {busiest.into_iter().map(|(id, name, delivered, failed, _)| view! {
                                    <tr><td><a href=link(&id)>{name}</a></td><td class="num">{thousands(delivered)}</td><td class="num">{thousands(failed)}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </div>
            <div class="card" data-testid="failing-destinations">
                <div class="card-header"><h2>"Most failing destinations"</h2><span class="hint">"Last 24 hours"</span></div>
                {if failing.is_empty() {
                    view! { <div class="card-body muted">{failing_note}</div> }.into_any()
                } else {
                    view! {
                        <table class="list">
                            <thead><tr><th>"Destination"</th><th class="num">"Failed"</th><th class="num">"Failure rate"</th></tr></thead>
                            <tbody>
                                {failing.into_iter().map(|(id, name, _, failed, rate)| view! {
                                    <tr><td><a href=link(&id)>{name}</a></td><td class="num">{thousands(failed)}</td><td class="num">{percent(rate)}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </div>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::volume::{DestinationVolume, SourceVolume, VolumeSummary};

    /// The summary as the server sends it (`VolumeSummary`), read by the names used here.
    #[test]
    fn the_summary_is_read_by_the_names_destination_volume_gives_them() {
        let summary = VolumeSummary {
            from: "2026-11-27T10:00:00Z".into(),
            to: "2026-11-28T10:00:00Z".into(),
            destinations: vec![DestinationVolume {
                id: "d1".into(),
                name: "Orders webhook".into(),
                definition_name: "WEBHOOK".into(),
                delivered: 70,
                failed: 30,
                failure_rate: 0.3,
            }],
            sources: vec![SourceVolume {
                id: "s1".into(),
                name: "Shop".into(),
                definition_name: "Javascript".into(),
                received: 100,
            }],
        };
        assert_eq!(
            destination_volumes(&serde_json::to_value(summary).unwrap()),
            vec![("d1".into(), "Orders webhook".into(), 70, 30, 0.3)]
        );
    }
}
