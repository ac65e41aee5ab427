//! Instance administration: namespaces, the groups of workspaces that one multi-tenant rudder-server serves.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use super::confirm;
use crate::api::namespaces::{
    CreateNamespace, InstanceWorkspace, Namespace, NamespaceWithSecret, UpdateNamespace,
};
use crate::api::{use_api, ApiError};
use crate::components::layout::{error_view, PageHeader};
use crate::components::{
    report, use_browser_origin, ApiErrorAlert, Loading, ShownOnce, TextField, Toast,
};
use crate::session::me_resource;

/// The route of the namespaces page, loaded lazily: the page's code is a wasm chunk of its own, fetched the
/// first time the page is shown (`scripts/build-site` splits it out), not part of every page's first load.
pub struct InstanceNamespacesRoute;

#[lazy_route]
impl LazyRoute for InstanceNamespacesRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <InstanceNamespaces/> }.into_any()
    }
}

#[component]
pub fn InstanceNamespaces() -> impl IntoView {
    let api = use_api();
    let me = me_resource();
    let version = RwSignal::new(0u32);
    let namespaces = Resource::new(move || version.get(), {
        let api = api.clone();
        move |_| api.get::<Vec<Namespace>>("/api/v1/namespaces")
    });
    let workspaces = Resource::new(move || version.get(), {
        let api = api.clone();
        move |_| api.get::<Vec<InstanceWorkspace>>("/api/v1/instance/workspaces")
    });
    let error = RwSignal::new(None::<ApiError>);
    // The secret of a namespace just created or rotated, with the namespace's name: shown once.
    let shown_secret = RwSignal::new(None::<(String, String)>);

    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<String>::new());
    let create = Action::new({
        let api = api.clone();
        move |body: &CreateNamespace| {
            let (api, body) = (api.clone(), body.clone());
            async move {
                api.post::<_, NamespaceWithSecret>("/api/v1/namespaces", &body)
                    .await
            }
        }
    });
    report(create, error, "Namespace created.", move |created| {
        name.set(String::new());
        chosen.set(Vec::new());
        shown_secret.set(Some((created.namespace.name, created.secret)));
        version.update(|v| *v += 1);
    });
    let rotate = Action::new({
        let api = api.clone();
        move |id: &String| {
            let (api, path) = (
                api.clone(),
                format!("/api/v1/namespaces/{id}/rotate-secret"),
            );
            async move { api.post::<_, NamespaceWithSecret>(path, &()).await }
        }
    });
    report(rotate, error, "New secret made.", move |rotated| {
        shown_secret.set(Some((rotated.namespace.name, rotated.secret)));
        version.update(|v| *v += 1);
    });
    let delete = Action::new({
        let api = api.clone();
        move |id: &String| {
            let (api, path) = (api.clone(), format!("/api/v1/namespaces/{id}"));
            async move { api.delete(path).await }
        }
    });
    report(delete, error, "Namespace deleted.", move |_| {
        version.update(|v| *v += 1)
    });
    let update = Action::new(move |(id, workspace_ids): &(String, Vec<String>)| {
        let (api, path) = (api.clone(), format!("/api/v1/namespaces/{id}"));
        let body = UpdateNamespace {
            workspace_ids: Some(workspace_ids.clone()),
        };
        async move { api.patch::<_, Namespace>(path, &body).await }
    });
    let editing = RwSignal::new(None::<String>);
    let edit_error = RwSignal::new(None::<ApiError>);
    report(update, edit_error, "Saved.", move |_| {
        editing.set(None);
        version.update(|v| *v += 1);
    });

    let error_signal: Signal<Option<ApiError>> = error.into();
    let edit_error_signal: Signal<Option<ApiError>> = edit_error.into();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateNamespace {
            name: name.get_untracked(),
            workspace_ids: chosen.get_untracked(),
        });
    };
    let origin = use_browser_origin();
    view! {
        <Title text="Namespaces"/>
        <div class="content standalone">
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    let (me, namespaces, workspaces) = match (me.await, namespaces.await, workspaces.await) {
                        (Ok(m), Ok(n), Ok(w)) => (m, n, w),
                        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_view(e),
                    };
                    let back = me.workspaces.first().map_or("/".to_string(), |w| format!("/w/{}", w.id));
                    let names = StoredValue::new(workspaces.clone());
                    let namespace_names: Vec<(String, String)> =
                        namespaces.iter().map(|n| (n.id.clone(), n.name.clone())).collect();
                    view! {
                        <div class="breadcrumbs"><a href=back>"← Back to your workspace"</a></div>
                        <PageHeader title="Namespaces" subtitle="Instance administration".to_string()/>
                        <div class="stack">
                            <div class="card">
                                <div class="card-header"><h2>"Serve many workspaces from one data plane"</h2></div>
                                <div class="card-body">
                                    <p class="muted">"A multi-tenant rudder-server pulls every workspace of one namespace. Start it with:"</p>
                                    <pre class="snippet">{move || format!("DEPLOYMENT_TYPE=MULTITENANT\nCONFIG_BACKEND_URL={}\nWORKSPACE_NAMESPACE=<the namespace's name>\nHOSTED_SERVICE_SECRET=<its secret, shown once>", origin.get())}</pre>
                                </div>
                            </div>
                            {move || shown_secret.get().map(|(name, secret)| view! {
                                <div class="card"><div class="card-body">
                                    <ShownOnce what=format!("secret of namespace {name}") value=secret on_done=Callback::new(move |_| shown_secret.set(None))/>
                                </div></div>
                            })}
                            <ApiErrorAlert error=error_signal beside=&["name", "workspaceIds"]/>
                            <form class="card" on:submit=submit>
                                <div class="card-header"><h2>"Create a namespace"</h2></div>
                                <div class="card-body form">
                                    <TextField label="Name" field="name" value=name error=error_signal required=true placeholder="e.g. eu-production" help="Lower-case letters, digits, - and _: the data plane's WORKSPACE_NAMESPACE."/>
                                    <WorkspacePicker workspaces=workspaces.clone() namespaces=namespace_names.clone() chosen=chosen namespace_id=None error=error_signal/>
                                </div>
                                <div class="card-footer"><button type="submit" class="btn primary" disabled=move || create.pending().get()>"Create namespace"</button></div>
                            </form>
                            <div class="card">
                                <div class="card-header"><h2>"Namespaces"</h2></div>
                                {if namespaces.is_empty() {
                                    view! { <div class="card-body muted">"No namespace yet: every data plane pulls one workspace with a data-plane token."</div> }.into_any()
                                } else {
                                    view! {
                                        <table class="list">
                                            <thead><tr><th>"Name"</th><th>"Workspaces"</th><th>"Secret"</th><th>"Updated"</th><th></th></tr></thead>
                                            <tbody>
                                                {namespaces.into_iter().map(|ns| {
                                                    let members = ns.workspace_ids.iter().map(|id| {
                                                        names.with_value(|all| all.iter().find(|w| &w.id == id).map(|w| w.name.clone())).unwrap_or_else(|| id.clone())
                                                    }).collect::<Vec<_>>().join(", ");
                                                    let (id, edit_id, rotate_id, delete_id) = (ns.id.clone(), ns.id.clone(), ns.id.clone(), ns.id.clone());
                                                    let is_editing = move || editing.get().as_deref() == Some(id.as_str());
                                                    let picked = RwSignal::new(ns.workspace_ids.clone());
                                                    let save_id = ns.id.clone();
                                                    let (workspaces, namespace_names) = (workspaces.clone(), namespace_names.clone());
                                                    let ns_id = ns.id.clone();
                                                    view! {
                                                        <tr data-namespace=ns.name.clone()>
                                                            <td><code>{ns.name.clone()}</code></td>
                                                            <td>{if members.is_empty() { "None".to_string() } else { members }}</td>
                                                            <td><code>{format!("{}…", ns.secret_prefix)}</code></td>
                                                            <td class="muted">{ns.updated_at.chars().take(16).collect::<String>().replace('T', " ")}</td>
                                                            <td class="actions">
                                                                <button type="button" class="btn small" on:click=move |_| editing.set(Some(edit_id.clone()))>"Workspaces"</button>
                                                                <button type="button" class="btn small" on:click=move |_| {
                                                                    if confirm("Make a new secret? Data planes using the old one get 401 at their next poll.") { rotate.dispatch(rotate_id.clone()); }
                                                                }>"Rotate secret"</button>
                                                                <button type="button" class="btn small danger" on:click=move |_| {
                                                                    if confirm("Delete this namespace? Its data planes get 401 at their next poll; the workspaces stay.") { delete.dispatch(delete_id.clone()); }
                                                                }>"Delete"</button>
                                                            </td>
                                                        </tr>
                                                        <Show when=is_editing>
                                                            <tr class="editing"><td colspan="5">
                                                                <div class="form">
                                                                    <ApiErrorAlert error=edit_error_signal beside=&["workspaceIds"]/>
                                                                    <WorkspacePicker workspaces=workspaces.clone() namespaces=namespace_names.clone() chosen=picked namespace_id=Some(ns_id.clone()) error=edit_error_signal/>
                                                                    <div class="row">
                                                                        <button type="button" class="btn primary small" disabled=move || update.pending().get() on:click={
                                                                            let save_id = save_id.clone();
                                                                            move |_| { update.dispatch((save_id.clone(), picked.get_untracked())); }
                                                                        }>"Save"</button>
                                                                        <button type="button" class="btn small" on:click=move |_| editing.set(None)>"Cancel"</button>
                                                                    </div>
                                                                </div>
                                                            </td></tr>
                                                        </Show>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            </div>
                        </div>
                    }.into_any()
                })}
            </Transition>
        </div>
        <Toast/>
    }
}

/// Checkboxes for the workspaces a namespace holds. A workspace in another namespace cannot be picked: a
/// workspace is served by one namespace at most.
#[component]
fn WorkspacePicker(
    workspaces: Vec<InstanceWorkspace>,
    /// Every namespace's id and name, to say where a workspace that cannot be picked is.
    namespaces: Vec<(String, String)>,
    chosen: RwSignal<Vec<String>>,
    namespace_id: Option<String>,
    error: Signal<Option<ApiError>>,
) -> impl IntoView {
    if workspaces.is_empty() {
        return view! { <p class="muted">"This Wheelhouse has no workspace yet."</p> }.into_any();
    }
    let names: Vec<(String, String)> = workspaces
        .iter()
        .map(|w| (w.id.clone(), w.name.clone()))
        .collect();
    // The API names the item (`workspaceIds.2`); the person knows the workspace by its name.
    let message = move || {
        let e = error.get()?;
        let field = e.field.as_deref()?;
        let index: usize = field.strip_prefix("workspaceIds.")?.parse().ok()?;
        let id = chosen.with(|c| c.get(index).cloned())?;
        let name = names
            .iter()
            .find(|(i, _)| *i == id)
            .map_or(id.clone(), |(_, n)| n.clone());
        let reason = e.message.strip_prefix(field).unwrap_or(&e.message).trim();
        Some(view! { <div class="error" role="alert">{format!("{name} {reason}.")}</div> })
    };
    view! {
        <fieldset class="field">
            <legend>"Workspaces"</legend>
            {workspaces.into_iter().map(|w| {
                let taken_by = w
                    .namespace_id
                    .as_ref()
                    .filter(|n| Some(*n) != namespace_id.as_ref())
                    .map(|n| {
                        namespaces
                            .iter()
                            .find(|(id, _)| id == n)
                            .map_or(n.clone(), |(_, name)| name.clone())
                    });
                let taken = taken_by.is_some();
                let id = w.id.clone();
                let checked = {
                    let id = id.clone();
                    move || chosen.with(|c| c.contains(&id))
                };
                let toggle = move |ev: leptos::ev::Event| {
                    let on = event_target_checked(&ev);
                    chosen.update(|c| {
                        c.retain(|x| *x != id);
                        if on {
                            c.push(id.clone());
                        }
                    });
                };
                view! {
                    <label class="check">
                        <input type="checkbox" data-workspace=w.id.clone() prop:checked=checked disabled=taken on:change=toggle/>
                        {w.name.clone()}
                        {taken_by.map(|n| view! { <span class="muted">{format!("(in {n})")}</span> })}
                    </label>
                }
            }).collect_view()}
            {message}
        </fieldset>
    }
    .into_any()
}
