//! The front door after sign-in: the workspace chooser, a new workspace, your account, and "not found".

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use super::auth::failed;
use super::go;
use crate::api::auth::{ChangePasswordRequest, Me};
use crate::api::use_api;
use crate::api::warehouses::{NotificationSettings, UpdateNotificationSettings};
use crate::api::workspaces::{CreateWorkspace, Workspace};
use crate::components::layout::{error_view, AuthShell};
use crate::components::{use_hydrated, use_toast, ApiErrorAlert, Loading, TextField, Toast};
use crate::session::me_resource;

/// `/`: your first workspace, or an invitation to create one.
#[component]
pub fn Home() -> impl IntoView {
    let me = me_resource();
    view! {
        <Title text="Workspaces"/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match me.await {
                    Err(e) => error_view(e),
                    Ok(me) => match me.workspaces.first() {
                        Some(ws) => view! { <Redirect path=format!("/w/{}", ws.id)/> }.into_any(),
                        None => view! { <CreateFirstWorkspace me=me/> }.into_any(),
                    },
                }
            })}
        </Suspense>
    }
}

#[component]
fn CreateFirstWorkspace(me: Me) -> impl IntoView {
    view! {
        <AuthShell>
            <h1>{format!("Welcome, {}", me.user.name)}</h1>
            <p class="lead">"You are not in any workspace yet. Create one to start adding sources and destinations, or ask a colleague to invite you to theirs."</p>
            <WorkspaceForm/>
        </AuthShell>
    }
}

#[component]
fn WorkspaceForm() -> impl IntoView {
    let api = use_api();
    let name = RwSignal::new(String::new());
    let create = Action::new(move |body: &CreateWorkspace| {
        let (api, body) = (api.clone(), body.clone());
        async move { api.post::<_, Workspace>("/api/v1/workspaces", &body).await }
    });
    let error = failed(create);
    Effect::new(move |_| {
        if let Some(Ok(ws)) = create.value().get() {
            // A full page load: the new workspace's pages start from fresh data.
            go(&format!("/w/{}", ws.id));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateWorkspace {
            name: name.get_untracked(),
        });
    };
    view! {
        <form class="form" on:submit=submit>
            <ApiErrorAlert error=error/>
            <TextField label="Workspace name" field="name" value=name error=error required=true autofocus=true placeholder="e.g. Acme production"/>
            <button type="submit" class="btn primary" disabled=move || create.pending().get()>"Create workspace"</button>
        </form>
    }
}

#[component]
pub fn NewWorkspace() -> impl IntoView {
    let me = me_resource();
    view! {
        <Title text="New workspace"/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match me.await {
                    Err(e) => error_view(e),
                    Ok(_) => view! {
                        <AuthShell>
                            <h1>"New workspace"</h1>
                            <p class="lead">"A workspace holds sources, destinations and the people who manage them. You will be its owner."</p>
                            <WorkspaceForm/>
                            <div class="below"><a href="/">"Cancel"</a></div>
                        </AuthShell>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn Account() -> impl IntoView {
    let me = me_resource();
    view! {
        <Title text="Your account"/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match me.await {
                    Err(e) => error_view(e),
                    Ok(me) => view! { <AccountPage me=me/> }.into_any(),
                }
            })}
        </Suspense>
        <Toast/>
    }
}

#[component]
fn AccountPage(me: Me) -> impl IntoView {
    let api = use_api();
    let toast = use_toast();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let change = Action::new(move |body: &ChangePasswordRequest| {
        let (api, body) = (api.clone(), body.clone());
        async move { api.post_no_content("/api/v1/me/password", &body).await }
    });
    let error = failed(change);
    Effect::new(move |_| {
        if let Some(Ok(())) = change.value().get() {
            current.set(String::new());
            new.set(String::new());
            toast.show("Password changed. Your other sessions are signed out.");
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        change.dispatch(ChangePasswordRequest {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        });
    };
    let back = me
        .workspaces
        .first()
        .map(|w| format!("/w/{}", w.id))
        .unwrap_or_else(|| "/".into());
    view! {
        <div class="auth">
            <div class="narrow-column wide">
                <div class="breadcrumbs"><a href=back>"← Back to your workspace"</a></div>
                <div class="card">
                    <div class="card-header"><h2>"Your account"</h2></div>
                    <div class="card-body kv">
                        <span class="k">"Name"</span><span>{me.user.name.clone()}</span>
                        <span class="k">"Email"</span><span>{me.user.email.clone()}</span>
                        <span class="k">"Workspaces"</span><span>{me.workspaces.len()}</span>
                    </div>
                </div>
                <form class="card" on:submit=submit>
                    <div class="card-header"><h2>"Change your password"</h2></div>
                    <div class="card-body form">
                        <ApiErrorAlert error=error/>
                        <input type="email" name="username" autocomplete="username" value=me.user.email.clone() readonly hidden/>
                        <TextField label="Current password" field="currentPassword" kind="password" value=current error=error autocomplete="current-password" required=true/>
                        <TextField label="New password" field="newPassword" kind="password" value=new error=error autocomplete="new-password" required=true help="At least 10 characters. Your other sessions will be signed out."/>
                    </div>
                    <div class="card-footer">
                        <button type="submit" class="btn primary" disabled=move || change.pending().get()>"Change password"</button>
                    </div>
                </form>
                <NotificationsCard/>
            </div>
        </div>
    }
}

/// Alert mail: mute it all, and the warehouses one chose for (`GET|PUT /api/v1/me/notifications`). Read in
/// the browser once hydrated (the page renders inside the account's own resource).
#[component]
fn NotificationsCard() -> impl IntoView {
    let hydrated = use_hydrated();
    let settings = RwSignal::new(None::<NotificationSettings>);
    let error = RwSignal::new(None::<String>);
    let api = use_api();
    Effect::new({
        let api = api.clone();
        move |_| {
            if hydrated.get() {
                let api = api.clone();
                leptos::task::spawn_local(async move {
                    match api
                        .get::<NotificationSettings>("/api/v1/me/notifications")
                        .await
                    {
                        Ok(s) => settings.set(Some(s)),
                        Err(e) => error.set(Some(e.message)),
                    }
                });
            }
        }
    });
    let toast = use_toast();
    let mute = move |ev: leptos::ev::Event| {
        let mute_all = event_target_checked(&ev);
        let api = api.clone();
        leptos::task::spawn_local(async move {
            match api
                .put::<_, NotificationSettings>(
                    "/api/v1/me/notifications",
                    &UpdateNotificationSettings { mute_all },
                )
                .await
            {
                Ok(s) => {
                    settings.set(Some(s));
                    toast.show("Notification settings saved.");
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <div class="card" data-testid="notifications">
            <div class="card-header"><h2>"Notifications"</h2></div>
            <div class="card-body">
                {move || error.get().map(|e| view! { <div class="alert error" role="alert">{e}</div> })}
                {move || settings.get().map(|s| view! {
                    <label class="checkbox">
                        <input type="checkbox" data-testid="mute-all" prop:checked=s.mute_all on:change=mute.clone()/>
                        " Mute all alert mail (failing and recovered warehouses)"
                    </label>
                    <p class="hint">"Admins and owners get each warehouse's alerts unless they unsubscribe on its Warehouse tab; others subscribe there."</p>
                    {(!s.subscriptions.is_empty()).then(|| view! {
                        <ul class="plain" data-testid="subscriptions">
                            {s.subscriptions.into_iter().map(|r| view! {
                                <li>
                                    <a href=format!("/w/{}/{}s/{}/warehouse", r.workspace_id, r.resource_type, r.resource_id)>{r.resource_name}</a>
                                    {if r.subscribed { ": subscribed" } else { ": unsubscribed" }}
                                </li>
                            }).collect_view()}
                        </ul>
                    })}
                })}
            </div>
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found"/>
        <AuthShell>
            <h1>"Page not found"</h1>
            <p class="lead">"There is nothing at this address."</p>
            <a class="btn primary" href="/">"Go to your workspaces"</a>
        </AuthShell>
    }
}
