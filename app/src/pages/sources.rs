//! Sources: the list, adding one from the catalog, and a source's page (write key, connections, settings).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;
use serde_json::Value;

use super::auth::failed;
use super::confirm;
use super::live::DetailTabs;
use crate::api::catalog::{DestinationSummary, SourceDefinition, SourceSummary};
use crate::api::destinations::{Connection, CreateConnection, Destination};
use crate::api::sources::{CreateSource, Source, UpdateSource};
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};
use crate::components::connections::Connected;
use crate::components::layout::{error_view, PageHeader};
use crate::components::schema_form::{with_defaults, SchemaForm};
use crate::components::{
    report, use_browser_origin, ApiErrorAlert, CatalogPicker, ConnectionsCard, CopyField, Loading,
    TextField, Tile,
};
use crate::session::{encode, use_workspace};

const GROUPS: &[(&str, &str)] = &[
    ("sdk", "Web and mobile SDKs"),
    ("server", "Server-side libraries"),
    ("webhook", "Webhooks and apps"),
    ("cloud", "Cloud apps"),
    ("warehouse", "Warehouses (reverse ETL)"),
];

#[component]
pub fn SourcesList() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let sources = Resource::new(|| (), {
        let path = ws.api("/sources");
        move |_| api.get::<Vec<Source>>(path.clone())
    });
    let can_edit = ws.can(Role::Editor);
    view! {
        <Title text="Sources"/>
        <PageHeader title="Sources" subtitle="Where your events come from.">
            {can_edit.then(|| view! { <a class="btn primary" href=ws.href("/sources/new")>"Add source"</a> })}
        </PageHeader>
        <Suspense fallback=Loading>
            {move || {
                let ws = use_workspace();
                Suspend::new(async move {
                    let sources = match sources.await {
                        Ok(s) => s,
                        Err(e) => return error_view(e),
                    };
                    if sources.is_empty() {
                        return view! {
                            <div class="card"><div class="empty">
                                <h2>"No sources yet"</h2>
                                <p>"Add the JavaScript SDK to your website, a mobile or server SDK, a webhook, or a warehouse table to sync from."</p>
                                {can_edit.then(|| view! { <a class="btn primary" href=ws.href("/sources/new")>"Add your first source"</a> })}
                            </div></div>
                        }.into_any();
                    }
                    view! {
                        <div class="card">
                            <table class="list">
                                <thead><tr><th>"Name"</th><th>"Type"</th><th>"Status"</th><th>"Destinations"</th></tr></thead>
                                <tbody>
                                    {sources.into_iter().map(|s| view! {
                                        <tr class="clickable">
                                            <td><a href=ws.href(&format!("/sources/{}", s.id))>{s.name.clone()}</a></td>
                                            <td class="muted">{s.source_type.clone()}</td>
                                            <td><StatusBadge enabled=s.enabled/></td>
                                            <td>{s.destination_ids.len()}</td>
                                        </tr>
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

#[component]
pub fn StatusBadge(enabled: bool) -> impl IntoView {
    if enabled {
        view! { <span class="badge on">"Enabled"</span> }
    } else {
        view! { <span class="badge off">"Disabled"</span> }
    }
}

#[component]
pub fn NewSource() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let catalog = Resource::new(|| (), {
        let api = api.clone();
        move |_| api.get::<Vec<SourceSummary>>("/api/v1/catalog/sources")
    });
    // The chosen definition's name; its whole definition (with the config schema) is fetched then.
    let selected = RwSignal::new(None::<String>);
    view! {
        <Title text="Add a source"/>
        <div class="breadcrumbs"><a href=ws.href("/sources")>"Sources"</a>" / Add"</div>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let catalog = match catalog.await {
                    Ok(c) => c,
                    Err(e) => return error_view(e),
                };
                view! {
                    {move || match selected.get() {
                        Some(name) => view! { <SourceSetup name=name on_back=Callback::new(move |_| selected.set(None))/> }.into_any(),
                        None => {
                            let tiles = catalog.iter().map(|d| Tile {
                                name: d.name.clone(),
                                display_name: d.display_name.clone(),
                                description: d.description.clone(),
                                group: d.group.clone(),
                            }).collect();
                            let on_pick = Callback::new(move |name: String| selected.set(Some(name)));
                            view! {
                                <PageHeader title="Add a source" subtitle="Choose where events come from."/>
                                <CatalogPicker groups=GROUPS tiles=tiles search_placeholder="Search sources" on_pick=on_pick/>
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
fn SourceSetup(name: String, on_back: Callback<()>) -> impl IntoView {
    let api = use_api();
    let definition = Resource::new(
        move || name.clone(),
        move |name| {
            let api = api.clone();
            async move {
                api.get::<SourceDefinition>(format!("/api/v1/catalog/sources/{}", encode(&name)))
                    .await
            }
        },
    );
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match definition.await {
                    Ok(definition) => view! { <SourceForm definition=definition on_back=on_back/> }.into_any(),
                    Err(e) => error_view(e),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SourceForm(definition: SourceDefinition, on_back: Callback<()>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let navigate = use_navigate();
    let name = RwSignal::new(definition.display_name.clone());
    let config = RwSignal::new(with_defaults(
        &definition.config_schema,
        Value::Object(Default::default()),
    ));
    let create = Action::new({
        let path = ws.api("/sources");
        move |body: &CreateSource| {
            let (api, body, path) = (api.clone(), body.clone(), path.clone());
            async move { api.post::<_, Source>(path, &body).await }
        }
    });
    let error = failed(create);
    Effect::new({
        let ws = ws.clone();
        move |_| {
            if let Some(Ok(source)) = create.value().get() {
                navigate(
                    &ws.href(&format!("/sources/{}", source.id)),
                    NavigateOptions::default(),
                );
            }
        }
    });
    let source_type = definition.name.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateSource {
            name: name.get_untracked(),
            source_type: source_type.clone(),
            config: Some(config.get_untracked()),
            enabled: Some(true),
        });
    };
    view! {
        <PageHeader title=format!("Add {}", definition.display_name) subtitle=definition.description.clone()/>
        <form class="card" on:submit=submit>
            <div class="card-body form">
                <ApiErrorAlert error=error beside=&["name", "config"]/>
                <TextField label="Name" field="name" value=name error=error required=true autofocus=true help="How this source appears in Wheelhouse."/>
                <SchemaForm schema=definition.config_schema.clone() config=config error=error/>
            </div>
            <div class="card-footer">
                <button type="button" class="btn" on:click=move |_| on_back.run(())>"Back"</button>
                <button type="submit" class="btn primary" disabled=move || create.pending().get()>"Create source"</button>
            </div>
        </form>
    }
}

#[component]
pub fn SourceDetail() -> impl IntoView {
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
                let source = api.get::<Source>(ws.api(&format!("/sources/{id}"))).await?;
                // A type the catalog no longer has leaves the page without a settings form, not broken.
                let definition = api
                    .get_optional::<SourceDefinition>(format!(
                        "/api/v1/catalog/sources/{}",
                        encode(&source.source_type)
                    ))
                    .await?;
                let destinations = api.get::<Vec<Destination>>(ws.api("/destinations")).await?;
                let destination_catalog = api
                    .get::<Vec<DestinationSummary>>("/api/v1/catalog/destinations")
                    .await?;
                let connections = api.get::<Vec<Connection>>(ws.api("/connections")).await?;
                Ok::<_, ApiError>(SourcePage {
                    source,
                    definition,
                    destinations,
                    destination_catalog,
                    connections,
                })
            }
        }
    });
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <SourceView page=page version=version/> }.into_any(),
                    Err(e) => error_view(e),
                }
            })}
        </Transition>
    }
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct SourcePage {
    source: Source,
    definition: Option<SourceDefinition>,
    destinations: Vec<Destination>,
    destination_catalog: Vec<DestinationSummary>,
    connections: Vec<Connection>,
}

#[component]
fn SourceView(page: SourcePage, version: RwSignal<u32>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let navigate = use_navigate();
    let can_edit = ws.can(Role::Editor);
    let SourcePage {
        source,
        definition,
        destinations,
        destination_catalog,
        connections,
    } = page;
    let source_path = ws.api(&format!("/sources/{}", source.id));
    let display_type = definition
        .as_ref()
        .map(|d| d.display_name.clone())
        .unwrap_or_else(|| source.source_type.clone());
    let platform = definition
        .as_ref()
        .map(|d| d.source_type.clone())
        .unwrap_or_default();
    let error = RwSignal::new(None::<ApiError>);
    let reload = move || version.update(|v| *v += 1);

    let update = Action::new({
        let (api, path) = (api.clone(), source_path.clone());
        move |body: &UpdateSource| {
            let (api, body, path) = (api.clone(), body.clone(), path.clone());
            async move { api.patch::<_, Source>(path, &body).await }
        }
    });
    report(update, error, "Saved.", move |_| reload());
    let rotate = Action::new({
        let (api, path) = (api.clone(), format!("{source_path}/rotate-write-key"));
        move |_: &()| {
            let (api, path) = (api.clone(), path.clone());
            async move { api.post::<_, Source>(path, &()).await }
        }
    });
    report(
        rotate,
        error,
        "New write key created. The old one no longer works.",
        move |_| reload(),
    );
    let delete = Action::new({
        let (api, path) = (api.clone(), source_path.clone());
        move |_: &()| {
            let (api, path) = (api.clone(), path.clone());
            async move { api.delete(path).await }
        }
    });
    report(delete, error, "", {
        let href = ws.href("/sources");
        move |_| navigate(&href, NavigateOptions::default())
    });
    let error_signal: Signal<Option<ApiError>> = error.into();

    let enabled = source.enabled;
    let toggle = move |_| {
        update.dispatch(UpdateSource {
            enabled: Some(!enabled),
            ..Default::default()
        });
    };
    let remove = move |_| {
        if confirm("Delete this source? Its write key stops working at once, and its connections are removed.") {
            delete.dispatch(());
        }
    };
    let rotate_key = move |_| {
        if confirm("Create a new write key? The current one stops working at once: update your SDKs and webhooks.") {
            rotate.dispatch(());
        }
    };

    // Connections: this source's, and the destinations that accept its type and are not connected yet.
    let connected: Vec<Connected> = connections
        .iter()
        .filter(|c| c.source_id == source.id)
        .filter_map(|c| {
            let d = destinations.iter().find(|d| d.id == c.destination_id)?;
            Some(Connected {
                connection_id: c.id.clone(),
                name: d.name.clone(),
                href: ws.href(&format!("/destinations/{}", d.id)),
            })
        })
        .collect();
    let connectable: Vec<(String, String)> = destinations
        .iter()
        .filter(|d| {
            !connections
                .iter()
                .any(|c| c.source_id == source.id && c.destination_id == d.id)
        })
        .filter(|d| {
            destination_catalog
                .iter()
                .find(|def| def.name == d.destination_type)
                .is_some_and(|def| def.supports_source_type(&platform))
        })
        .map(|d| (d.id.clone(), d.name.clone()))
        .collect();
    let source_id = source.id.clone();
    let connection_for = Callback::new(move |destination_id: String| CreateConnection {
        source_id: source_id.clone(),
        destination_id,
    });

    // Settings form.
    let name = RwSignal::new(source.name.clone());
    let config = RwSignal::new(source.config.clone());
    let schema = definition
        .as_ref()
        .map(|d| d.config_schema.clone())
        .unwrap_or(Value::Null);
    let has_settings = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    let revision = source.revision.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        update.dispatch(UpdateSource {
            name: Some(name.get_untracked()),
            config: has_settings.then(|| config.get_untracked()),
            enabled: None,
            revision: Some(revision.clone()),
        });
    };

    let origin = use_browser_origin();
    let write_key = source.write_key.clone();
    let snippet = {
        let write_key = write_key.clone();
        move || {
            format!("rudderanalytics.load(\"{write_key}\", \"<DATA_PLANE_URL>\", {{\n  configUrl: \"{}\"\n}});", origin.get())
        }
    };

    view! {
        <Title text=source.name.clone()/>
        <div class="breadcrumbs"><a href=ws.href("/sources")>"Sources"</a>" / "{source.name.clone()}</div>
        <PageHeader title=source.name.clone() subtitle=display_type.clone()>
            <StatusBadge enabled=enabled/>
            {can_edit.then(|| view! {
                <button type="button" class="btn" on:click=toggle disabled=move || update.pending().get()>
                    {if enabled { "Disable" } else { "Enable" }}
                </button>
                <button type="button" class="btn danger" on:click=remove>"Delete"</button>
            })}
        </PageHeader>
        <DetailTabs base=ws.href(&format!("/sources/{}", source.id)) kind="sources"
            warehouse=crate::api::warehouses::is_warehouse("sources", &source.source_type)/>
        <ApiErrorAlert error=error_signal beside=&["name", "config"] reload=Callback::new(move |_| reload())/>
        <div class="stack">
            <div class="card">
                <div class="card-header"><h2>"Write key"</h2><span class="hint">"SDKs and webhooks send events with it. It is not a secret: it ships in your site and apps."</span></div>
                <div class="card-body stack">
                    <CopyField value=write_key test_id="write-key"/>
                    {(platform == "web").then(|| view! {
                        <div>
                            <p class="muted small">"Load the RudderStack JavaScript SDK with this write key, your data plane's URL, and this Wheelhouse as its config URL:"</p>
                            <pre class="snippet">{snippet}</pre>
                        </div>
                    })}
                    {can_edit.then(|| view! { <div><button type="button" class="btn small" on:click=rotate_key>"Rotate write key"</button></div> })}
                </div>
            </div>
            <ConnectionsCard
                title="Destinations"
                hint="Where this source's events go"
                empty="Not connected to any destination yet."
                picker="Destination to connect"
                connected=connected
                connectable=connectable
                connection_for=connection_for
                error=error
                version=version
            />
            <super::source_tracking_plan::SourceTrackingPlanCard source_id=source.id.clone()/>
            <form class="card" on:submit=save>
                <div class="card-header"><h2>"Settings"</h2></div>
                <div class="card-body form">
                    <TextField label="Name" field="name" value=name error=error_signal required=true/>
                    {has_settings.then(|| view! { <SchemaForm schema=schema.clone() config=config secrets=source.secrets.clone() error=error_signal/> })}
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
