//! Who is signed in, and the workspace a page belongs to.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::api::auth::Me;
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};

/// Bumped to reload `/api/v1/me` (after creating or renaming a workspace…).
#[derive(Clone, Copy)]
pub struct MeVersion(pub RwSignal<u32>);

pub fn provide_session() {
    provide_context(MeVersion(RwSignal::new(0)));
}

pub fn reload_me() {
    if let Some(MeVersion(v)) = use_context::<MeVersion>() {
        v.update(|n| *n += 1);
    }
}

pub fn me_resource() -> Resource<Result<Me, ApiError>> {
    let api = use_api();
    let version = expect_context::<MeVersion>().0;
    Resource::new(move || version.get(), move |_| api.get::<Me>("/api/v1/me"))
}

/// The workspace of the current page (inside `/w/:ws`).
#[derive(Clone, Debug)]
pub struct WorkspaceCtx {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub me: Me,
}

impl WorkspaceCtx {
    pub fn can(&self, role: Role) -> bool {
        self.role.at_least(role)
    }

    /// `/api/v1/workspaces/<id><rest>`
    pub fn api(&self, rest: &str) -> String {
        format!("/api/v1/workspaces/{}{rest}", self.id)
    }

    /// `/w/<id><rest>`
    pub fn href(&self, rest: &str) -> String {
        format!("/w/{}{rest}", self.id)
    }
}

pub fn use_workspace() -> WorkspaceCtx {
    expect_context::<WorkspaceCtx>()
}

/// Sends a signed-out visitor to the sign-in page, coming back here afterwards.
#[component]
pub fn ToLogin() -> impl IntoView {
    let location = use_location();
    let search = location.search.get_untracked();
    let search = search.trim_start_matches('?');
    let mut next = location.pathname.get_untracked();
    if !search.is_empty() {
        next = format!("{next}?{search}");
    }
    let path = if next == "/" || next.is_empty() {
        "/login".to_string()
    } else {
        format!("/login?next={}", encode(&next))
    };
    view! { <Redirect path=path/> }
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
