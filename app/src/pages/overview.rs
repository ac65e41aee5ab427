//! A workspace's home: what to do next while it is being set up, then its pipelines at a glance.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::destinations::Destination;
use crate::api::sources::Source;
use crate::api::tokens::DataPlaneToken;
use crate::api::use_api;
use crate::api::workspaces::Role;
use crate::components::layout::{error_view, PageHeader};
use crate::components::Loading;
use crate::session::use_workspace;

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
