use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;

use super::feedback::{Loading, Toast};
use crate::api::auth::Me;
use crate::api::{use_api, ApiError};
use crate::session::{me_resource, ToLogin, WorkspaceCtx};

/// The frame of the sign-in, set-up, invite and reset pages.
#[component]
pub fn AuthShell(children: Children) -> impl IntoView {
    view! {
        <div class="auth">
            <div class="narrow-column">
                <div class="brand"><span class="logo">"W"</span>"Wheelhouse"</div>
                <div class="card"><div class="card-body">{children()}</div></div>
            </div>
        </div>
    }
}

#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional, into)] subtitle: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="page-header">
            <div>
                <h1>{title}</h1>
                {subtitle.map(|s| view! { <div class="subtitle">{s}</div> })}
            </div>
            <div class="row">{children.map(|c| c())}</div>
        </div>
    }
}

/// The HTTP status of the page being rendered on the server (nothing in the browser).
pub fn set_page_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        let status =
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}

/// What a failed page load shows: the sign-in page for 401, "not found" for 404, the message otherwise.
/// Rendered on the server, the page answers with the API's status (404 for a resource that is not there
/// or not yours), not 200.
pub fn error_view(error: ApiError) -> AnyView {
    if error.is_unauthorized() {
        return view! { <ToLogin/> }.into_any();
    }
    set_page_status(if (400..600).contains(&error.status) {
        error.status
    } else {
        500
    });
    let title = if error.is_not_found() {
        "Not found"
    } else if error.status == 403 {
        "Not allowed"
    } else {
        "Something went wrong"
    };
    view! {
        <div class="card"><div class="empty">
            <h2>{title}</h2>
            <p>{error.message}</p>
        </div></div>
    }
    .into_any()
}

/// `/w/:ws/…`: checks the visitor is signed in and a member, provides the workspace to the pages, and frames
/// them with the sidebar.
#[component]
pub fn WorkspaceLayout() -> impl IntoView {
    let params = use_params_map();
    let ws_id = Memo::new(move |_| params.with(|m| m.get("ws")).unwrap_or_default());
    let me = me_resource();
    view! {
        <Suspense fallback=Loading>
            {move || {
                let id = ws_id.get();
                Suspend::new(async move {
                    let me = match me.await {
                        Ok(me) => me,
                        Err(error) => return error_view(error),
                    };
                    let Some(ws) = me.workspaces.iter().find(|w| w.id == id).cloned() else {
                        set_page_status(404);
                        return view! {
                            <div class="auth"><div class="card"><div class="empty">
                                <h2>"Workspace not found"</h2>
                                <p>"It does not exist, or you are not a member of it."</p>
                                <a class="btn primary" href="/">"Go to your workspaces"</a>
                            </div></div></div>
                        }
                        .into_any();
                    };
                    provide_context(WorkspaceCtx { id: ws.id, name: ws.name, role: ws.role, me: me.clone() });
                    view! {
                        <div class="app">
                            <Sidebar me=me/>
                            <div class="main"><div class="content"><Outlet/></div></div>
                        </div>
                        <Toast/>
                    }
                    .into_any()
                })
            }}
        </Suspense>
    }
}

#[component]
fn Sidebar(me: Me) -> impl IntoView {
    let ws = crate::session::use_workspace();
    let navigate = use_navigate();
    let switch = move |ev: leptos::ev::Event| {
        let id = event_target_value(&ev);
        if id == "__new" {
            navigate("/workspaces/new", NavigateOptions::default());
        } else {
            navigate(&format!("/w/{id}"), NavigateOptions::default());
        }
    };
    let api = use_api();
    let sign_out = Action::new(move |_: &()| {
        let api = api.clone();
        async move { api.post_no_content("/api/v1/auth/logout", &()).await }
    });
    Effect::new(move |_| {
        if sign_out.value().get().is_some() {
            #[cfg(feature = "hydrate")]
            if let Some(window) = web_sys::window() {
                let _ = window.location().set_href("/login");
            }
        }
    });
    let current = ws.id.clone();
    view! {
        <nav class="sidebar" aria-label="Main">
            <div class="brand"><span class="logo">"W"</span>"Wheelhouse"</div>
            <div class="switcher">
                <label for="workspace-switcher">"Workspace"</label>
                <select id="workspace-switcher" on:change=switch>
                    {me.workspaces.iter().map(|w| {
                        let selected = w.id == current;
                        view! { <option value=w.id.clone() selected=selected>{w.name.clone()}</option> }
                    }).collect_view()}
                    <option value="__new">"+ New workspace"</option>
                </select>
            </div>
            <div class="nav">
                <A href=ws.href("") exact=true>"Overview"</A>
                <div class="section">"Pipelines"</div>
                <A href=ws.href("/sources")>"Sources"</A>
                <A href=ws.href("/destinations")>"Destinations"</A>
                <A href=ws.href("/live")>"Live events"</A>
                <A href=ws.href("/data-planes")>"Data planes"</A>
                <A href=ws.href("/tracking-plans")>"Tracking plans"</A>
                <A href=ws.href("/consent")>"Consent"</A>
                <A href=ws.href("/alerts")>"Alerts"</A>
                <div class="section">"Workspace"</div>
                <A href=ws.href("/settings")>"Settings"</A>
            </div>
            <div class="footer">
                <div class="who">{me.user.name.clone()}</div>
                <div class="email">{me.user.email.clone()}</div>
                <div class="links">
                    <a href="/account">"Account"</a>
                    {me.user.is_instance_admin.then(|| view! { <a href="/instance/namespaces">"Namespaces"</a> })}
                    <button type="button" class="link" on:click=move |_| { sign_out.dispatch(()); }>"Sign out"</button>
                </div>
            </div>
        </nav>
    }
}
