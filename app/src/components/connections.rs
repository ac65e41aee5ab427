//! The card on a source's or a destination's page that lists what it is connected to, and connects or
//! disconnects (the API's `/connections`).

use leptos::prelude::*;

use super::feedback::report;
use crate::api::destinations::{Connection, CreateConnection};
use crate::api::{use_api, ApiError};
use crate::session::use_workspace;

/// One connected resource on the other end.
#[derive(Clone)]
pub struct Connected {
    pub connection_id: String,
    pub name: String,
    pub href: String,
}

#[component]
pub fn ConnectionsCard(
    title: &'static str,
    hint: &'static str,
    /// Shown when nothing is connected.
    empty: &'static str,
    /// The label of the picker of what could be connected.
    picker: &'static str,
    connected: Vec<Connected>,
    /// (id, name) of what could still be connected.
    connectable: Vec<(String, String)>,
    /// The connection to create for a picked id.
    connection_for: Callback<String, CreateConnection>,
    error: RwSignal<Option<ApiError>>,
    /// Bumped after a change, so the page reloads its data.
    version: RwSignal<u32>,
) -> impl IntoView {
    let ws = use_workspace();
    let can_edit = ws.can(crate::api::workspaces::Role::Editor);
    let api = use_api();
    let connect = Action::new({
        let (api, path) = (api.clone(), ws.api("/connections"));
        move |body: &CreateConnection| {
            let (api, body, path) = (api.clone(), body.clone(), path.clone());
            async move { api.post::<_, Connection>(path, &body).await }
        }
    });
    report(connect, error, "Connected.", move |_| {
        version.update(|v| *v += 1)
    });
    let disconnect = Action::new({
        let ws = ws.clone();
        move |connection_id: &String| {
            let (api, path) = (
                api.clone(),
                ws.api(&format!("/connections/{connection_id}")),
            );
            async move { api.delete(path).await }
        }
    });
    report(disconnect, error, "Disconnected.", move |_| {
        version.update(|v| *v += 1)
    });
    let chosen = RwSignal::new(
        connectable
            .first()
            .map(|(id, _)| id.clone())
            .unwrap_or_default(),
    );
    let connect_chosen = move |_| {
        let id = chosen.get_untracked();
        if !id.is_empty() {
            connect.dispatch(connection_for.run(id));
        }
    };
    view! {
        <div class="card">
            <div class="card-header"><h2>{title}</h2><span class="hint">{hint}</span></div>
            {if connected.is_empty() {
                view! { <div class="card-body muted">{empty}</div> }.into_any()
            } else {
                view! {
                    <table class="list"><tbody>
                        {connected.into_iter().map(|c| {
                            let connection_id = c.connection_id.clone();
                            view! {
                                <tr>
                                    <td><a href=c.href>{c.name}</a></td>
                                    <td class="actions">{can_edit.then(|| view! {
                                        <button type="button" class="btn small" on:click=move |_| { disconnect.dispatch(connection_id.clone()); }>"Disconnect"</button>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody></table>
                }.into_any()
            }}
            {(can_edit && !connectable.is_empty()).then(|| view! {
                <div class="card-footer">
                    <select aria-label=picker class="picker" prop:value=move || chosen.get() on:change=move |ev| chosen.set(event_target_value(&ev))>
                        {connectable.iter().map(|(id, name)| view! { <option value=id.clone()>{name.clone()}</option> }).collect_view()}
                    </select>
                    <button type="button" class="btn primary" on:click=connect_chosen>"Connect"</button>
                </div>
            })}
        </div>
    }
}
