//! Destinations: the list, adding one from the catalog (with its credentials, write-only), and a
//! destination's page (connected sources, settings).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;
use serde_json::Value;

use super::auth::failed;
use super::confirm;
use super::live::DetailTabs;
use super::sources::StatusBadge;
use crate::api::catalog::{DestinationDefinition, DestinationSummary, SourceSummary};
use crate::api::destinations::{
    Connection, CreateConnection, CreateDestination, Destination, UpdateDestination,
};
use crate::api::sources::Source;
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};
use crate::components::connections::Connected;
use crate::components::layout::{error_view, PageHeader};
use crate::components::schema_form::{with_defaults, SchemaForm};
use crate::components::{
    report, ApiErrorAlert, CatalogPicker, ConnectionsCard, Loading, TextField, Tile,
};
use crate::session::{encode, use_workspace};

const CATEGORIES: &[(&str, &str)] = &[
    ("analytics", "Analytics"),
    ("advertising", "Advertising"),
    ("marketing", "Marketing"),
    ("crm", "CRM and support"),
    ("messaging", "Messaging"),
    ("experimentation", "Experimentation"),
    ("streaming", "Streaming"),
    ("storage", "Storage"),
    ("warehouse", "Warehouses"),
    ("webhook", "Webhooks"),
];

/// Which of the workspace's sources a destination accepts (`supported_source_types`: its definition's).
fn compatible<'a>(
    supported_source_types: &'a [String],
    sources: &'a [Source],
    source_catalog: &'a [SourceSummary],
) -> impl Iterator<Item = &'a Source> + 'a {
    sources.iter().filter(move |s| {
        source_catalog
            .iter()
            .find(|d| d.name == s.source_type)
            .is_some_and(|d| supported_source_types.contains(&d.source_type))
    })
}

#[component]
pub fn DestinationsList() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let destinations = Resource::new(|| (), {
        let path = ws.api("/destinations");
        let api = api.clone();
        move |_| api.get::<Vec<Destination>>(path.clone())
    });
    let catalog = Resource::new(
        || (),
        move |_| api.get::<Vec<DestinationSummary>>("/api/v1/catalog/destinations"),
    );
    let can_edit = ws.can(Role::Editor);
    view! {
        <Title text="Destinations"/>
        <PageHeader title="Destinations" subtitle="Where your events go.">
            {can_edit.then(|| view! { <a class="btn primary" href=ws.href("/destinations/new")>"Add destination"</a> })}
        </PageHeader>
        <Suspense fallback=Loading>
            {move || {
                let ws = use_workspace();
                Suspend::new(async move {
                    let (destinations, catalog) = match (destinations.await, catalog.await) {
                        (Ok(d), Ok(c)) => (d, c),
                        (Err(e), _) | (_, Err(e)) => return error_view(e),
                    };
                    if destinations.is_empty() {
                        return view! {
                            <div class="card"><div class="empty">
                                <h2>"No destinations yet"</h2>
                                <p>"Send events to analytics and marketing tools, ad platforms, streams, storage or a warehouse."</p>
                                {can_edit.then(|| view! { <a class="btn primary" href=ws.href("/destinations/new")>"Add your first destination"</a> })}
                            </div></div>
                        }.into_any();
                    }
                    view! {
                        <div class="card">
                            <table class="list">
                                <thead><tr><th>"Name"</th><th>"Type"</th><th>"Status"</th><th>"Sources"</th></tr></thead>
                                <tbody>
                                    {destinations.into_iter().map(|d| {
                                        let kind = catalog.iter().find(|c| c.name == d.destination_type).map(|c| c.display_name.clone()).unwrap_or_else(|| d.destination_type.clone());
                                        view! {
                                            <tr class="clickable">
                                                <td><a href=ws.href(&format!("/destinations/{}", d.id))>{d.name.clone()}</a></td>
                                                <td class="muted">{kind}</td>
                                                <td><StatusBadge enabled=d.enabled/></td>
                                                <td>{d.source_ids.len()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                })
            }}
        </Suspense>
    }
}

/// What the "Add a destination" page renders: the catalog's list (names and categories, no schemas), and the
/// workspace's sources with their types, to offer the ones a destination accepts.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct NewDestinationData {
    catalog: Vec<DestinationSummary>,
    sources: Vec<Source>,
    source_catalog: Vec<SourceSummary>,
}

#[component]
pub fn NewDestination() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let data = Resource::new(|| (), {
        let ws = ws.clone();
        move |_| {
            let (api, ws) = (api.clone(), ws.clone());
            async move {
                Ok::<_, ApiError>(NewDestinationData {
                    catalog: api.get("/api/v1/catalog/destinations").await?,
                    sources: api.get(ws.api("/sources")).await?,
                    source_catalog: api.get("/api/v1/catalog/sources").await?,
                })
            }
        }
    });
    // The chosen definition's name; its whole definition (with the config schema) is fetched then.
    let selected = RwSignal::new(None::<String>);
    view! {
        <Title text="Add a destination"/>
        <div class="breadcrumbs"><a href=ws.href("/destinations")>"Destinations"</a>" / Add"</div>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let data = match data.await {
                    Ok(d) => d,
                    Err(e) => return error_view(e),
                };
                view! {
                    {move || match selected.get() {
                        Some(name) => view! {
                            <DestinationSetup name=name data=data.clone() on_back=Callback::new(move |_| selected.set(None))/>
                        }.into_any(),
                        None => {
                            let tiles = data.catalog.iter().map(|d| Tile {
                                name: d.name.clone(),
                                display_name: d.display_name.clone(),
                                description: d.description.clone(),
                                group: d.category.clone(),
                            }).collect();
                            let on_pick = Callback::new(move |name: String| selected.set(Some(name)));
                            view! {
                                <PageHeader title="Add a destination" subtitle="Choose where events go."/>
                                <CatalogPicker groups=CATEGORIES tiles=tiles search_placeholder="Search destinations" on_pick=on_pick/>
                            }.into_any()
                        }
                    }}
                }.into_any()
            })}
        </Suspense>
    }
}

/// The set-up form of the definition named `name`, once its definition has arrived.
#[component]
fn DestinationSetup(
    name: String,
    data: NewDestinationData,
    on_back: Callback<()>,
) -> impl IntoView {
    let api = use_api();
    let definition = Resource::new(
        move || name.clone(),
        move |name| {
            let api = api.clone();
            async move {
                api.get::<DestinationDefinition>(format!(
                    "/api/v1/catalog/destinations/{}",
                    encode(&name)
                ))
                .await
            }
        },
    );
    view! {
        <Suspense fallback=Loading>
            {move || {
                let data = data.clone();
                Suspend::new(async move {
                    match definition.await {
                        Ok(definition) => view! { <DestinationForm definition=definition data=data on_back=on_back/> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn DestinationForm(
    definition: DestinationDefinition,
    data: NewDestinationData,
    on_back: Callback<()>,
) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let navigate = use_navigate();
    let name = RwSignal::new(definition.display_name.clone());
    let config = RwSignal::new(with_defaults(
        &definition.config_schema,
        Value::Object(Default::default()),
    ));
    let candidates: Vec<Source> = compatible(
        &definition.supported_source_types,
        &data.sources,
        &data.source_catalog,
    )
    .cloned()
    .collect();
    let chosen = RwSignal::new(Vec::<String>::new());
    let create = Action::new({
        let ws = ws.clone();
        move |(body, source_ids): &(CreateDestination, Vec<String>)| {
            let (api, body, source_ids, ws) =
                (api.clone(), body.clone(), source_ids.clone(), ws.clone());
            async move {
                let destination = api
                    .post::<_, Destination>(ws.api("/destinations"), &body)
                    .await?;
                for source_id in source_ids {
                    api.post::<_, Connection>(
                        ws.api("/connections"),
                        &CreateConnection {
                            source_id,
                            destination_id: destination.id.clone(),
                        },
                    )
                    .await?;
                }
                Ok::<_, ApiError>(destination)
            }
        }
    });
    let error = failed(create);
    Effect::new({
        let ws = ws.clone();
        move |_| {
            if let Some(Ok(destination)) = create.value().get() {
                navigate(
                    &ws.href(&format!("/destinations/{}", destination.id)),
                    NavigateOptions::default(),
                );
            }
        }
    });
    let destination_type = definition.name.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch((
            CreateDestination {
                name: name.get_untracked(),
                destination_type: destination_type.clone(),
                config: Some(config.get_untracked()),
                enabled: Some(true),
            },
            chosen.get_untracked(),
        ));
    };
    view! {
        <PageHeader title=format!("Add {}", definition.display_name) subtitle=definition.description.clone()/>
        <form class="card" on:submit=submit>
            <div class="card-body form">
                <ApiErrorAlert error=error beside=&["name", "config"]/>
                <TextField label="Name" field="name" value=name error=error required=true autofocus=true help="How this destination appears in Wheelhouse."/>
                <fieldset>
                    <legend>"Send events from"</legend>
                    {if candidates.is_empty() {
                        view! { <p class="muted">"No source of this workspace can send to this destination yet; you can connect sources later."</p> }.into_any()
                    } else {
                        candidates.into_iter().map(|s| {
                            let id = s.id.clone();
                            let toggle = move |ev| {
                                let checked = event_target_checked(&ev);
                                let id = id.clone();
                                chosen.update(|list| {
                                    list.retain(|x| *x != id);
                                    if checked {
                                        list.push(id);
                                    }
                                });
                            };
                            view! { <label class="check"><input type="checkbox" data-source=s.id.clone() on:change=toggle/>{s.name.clone()}</label> }
                        }).collect_view().into_any()
                    }}
                </fieldset>
                <SchemaForm schema=definition.config_schema.clone() config=config error=error/>
            </div>
            <div class="card-footer">
                <button type="button" class="btn" on:click=move |_| on_back.run(())>"Back"</button>
                <button type="submit" class="btn primary" disabled=move || create.pending().get()>"Create destination"</button>
            </div>
        </form>
    }
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct DestinationPage {
    destination: Destination,
    definition: Option<DestinationDefinition>,
    sources: Vec<Source>,
    source_catalog: Vec<SourceSummary>,
    connections: Vec<Connection>,
}

#[component]
pub fn DestinationDetail() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|m| m.get("id")).unwrap_or_default());
    let version = RwSignal::new(0u32);
    let data = Resource::new(move || (id.get(), version.get()), {
        let ws = ws.clone();
        move |(id, _)| {
            let (api, ws) = (api.clone(), ws.clone());
            async move {
                let destination = api
                    .get::<Destination>(ws.api(&format!("/destinations/{id}")))
                    .await?;
                // A type the catalog no longer has leaves the page without a settings form, not broken.
                let definition = api
                    .get_optional::<DestinationDefinition>(format!(
                        "/api/v1/catalog/destinations/{}",
                        encode(&destination.destination_type)
                    ))
                    .await?;
                Ok::<_, ApiError>(DestinationPage {
                    definition,
                    destination,
                    sources: api.get(ws.api("/sources")).await?,
                    source_catalog: api.get("/api/v1/catalog/sources").await?,
                    connections: api.get(ws.api("/connections")).await?,
                })
            }
        }
    });
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <DestinationView page=page version=version/> }.into_any(),
                    Err(e) => error_view(e),
                }
            })}
        </Transition>
    }
}

#[component]
fn DestinationView(page: DestinationPage, version: RwSignal<u32>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let navigate = use_navigate();
    let can_edit = ws.can(Role::Editor);
    let DestinationPage {
        destination,
        definition,
        sources,
        source_catalog,
        connections,
    } = page;
    let path = ws.api(&format!("/destinations/{}", destination.id));
    let display_type = definition
        .as_ref()
        .map(|d| d.display_name.clone())
        .unwrap_or_else(|| destination.destination_type.clone());
    let error = RwSignal::new(None::<ApiError>);

    let update = Action::new({
        let (api, path) = (api.clone(), path.clone());
        move |body: &UpdateDestination| {
            let (api, body, path) = (api.clone(), body.clone(), path.clone());
            async move { api.patch::<_, Destination>(path, &body).await }
        }
    });
    report(update, error, "Saved.", move |_| {
        version.update(|v| *v += 1)
    });
    let delete = Action::new({
        let (api, path) = (api.clone(), path.clone());
        move |_: &()| {
            let (api, path) = (api.clone(), path.clone());
            async move { api.delete(path).await }
        }
    });
    report(delete, error, "", {
        let href = ws.href("/destinations");
        move |_| navigate(&href, NavigateOptions::default())
    });
    let error_signal: Signal<Option<ApiError>> = error.into();

    let enabled = destination.enabled;
    let toggle = move |_| {
        update.dispatch(UpdateDestination {
            enabled: Some(!enabled),
            ..Default::default()
        });
    };
    let remove = move |_| {
        if confirm(
            "Delete this destination and its stored credentials? Its connections are removed.",
        ) {
            delete.dispatch(());
        }
    };

    // Connections: the sources sending here, and those of a type this destination accepts not connected yet.
    let connected: Vec<Connected> = connections
        .iter()
        .filter(|c| c.destination_id == destination.id)
        .filter_map(|c| {
            let s = sources.iter().find(|s| s.id == c.source_id)?;
            Some(Connected {
                connection_id: c.id.clone(),
                name: s.name.clone(),
                href: ws.href(&format!("/sources/{}", s.id)),
            })
        })
        .collect();
    let connectable: Vec<(String, String)> = match &definition {
        Some(def) => compatible(&def.supported_source_types, &sources, &source_catalog)
            .filter(|s| {
                !connections
                    .iter()
                    .any(|c| c.destination_id == destination.id && c.source_id == s.id)
            })
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect(),
        None => Vec::new(),
    };
    let destination_id = destination.id.clone();
    let connection_for = Callback::new(move |source_id: String| CreateConnection {
        source_id,
        destination_id: destination_id.clone(),
    });

    let name = RwSignal::new(destination.name.clone());
    let config = RwSignal::new(destination.config.clone());
    let schema = definition
        .as_ref()
        .map(|d| d.config_schema.clone())
        .unwrap_or(Value::Null);
    let revision = destination.revision.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        update.dispatch(UpdateDestination {
            name: Some(name.get_untracked()),
            config: Some(config.get_untracked()),
            enabled: None,
            revision: Some(revision.clone()),
        });
    };

    view! {
        <Title text=destination.name.clone()/>
        <div class="breadcrumbs"><a href=ws.href("/destinations")>"Destinations"</a>" / "{destination.name.clone()}</div>
        <PageHeader title=destination.name.clone() subtitle=display_type>
            <StatusBadge enabled=enabled/>
            {can_edit.then(|| view! {
                <button type="button" class="btn" on:click=toggle disabled=move || update.pending().get()>
                    {if enabled { "Disable" } else { "Enable" }}
                </button>
                <button type="button" class="btn danger" on:click=remove>"Delete"</button>
            })}
        </PageHeader>
        <DetailTabs base=ws.href(&format!("/destinations/{}", destination.id)) kind="destinations"
            warehouse=crate::api::warehouses::is_warehouse("destinations", &destination.destination_type)/>
        <ApiErrorAlert error=error_signal beside=&["name", "config"] reload=Callback::new(move |_| version.update(|v| *v += 1))/>
        <div class="stack">
            <ConnectionsCard
                title="Sources"
                hint="Events from these sources go to this destination"
                empty="No source sends to this destination yet."
                picker="Source to connect"
                connected=connected
                connectable=connectable
                connection_for=connection_for
                error=error
                version=version
            />
            <form class="card" on:submit=save>
                <div class="card-header"><h2>"Settings"</h2><span class="hint">"Secret fields are write-only: stored encrypted, never shown again"</span></div>
                <div class="card-body form">
                    <TextField label="Name" field="name" value=name error=error_signal required=true/>
                    <SchemaForm schema=schema config=config secrets=destination.secrets.clone() error=error_signal/>
                </div>
                {can_edit.then(|| view! {
                    <div class="card-footer">
                        <button type="submit" class="btn primary" disabled=move || update.pending().get()>"Save"</button>
                    </div>
                })}
            </form>
        </div>
    }
}
