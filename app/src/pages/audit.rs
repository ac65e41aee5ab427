//! The audit log, for a workspace's admins: who changed what, when, from where, newest first, with filters
//! and older entries a page at a time.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};
use serde_json::Value;

use super::settings::SettingsTabs;
use crate::api::audit::{AuditEntry, AuditPage, Change};
use crate::api::workspaces::{Member, Role, UpdateWorkspace, Workspace};
use crate::api::{use_api, ApiError};
use crate::components::layout::{error_view, PageHeader};
use crate::components::{report, ApiErrorAlert, Loading, TextField};
use crate::session::{encode, use_workspace};

const RESOURCE_TYPES: &[(&str, &str)] = &[
    ("", "Anything"),
    ("source", "Sources"),
    ("destination", "Destinations"),
    ("connection", "Connections"),
    ("workspace", "The workspace"),
    ("member", "Members"),
    ("invite", "Invites"),
    ("api_token", "API tokens"),
    ("data_plane_token", "Data-plane tokens"),
];

/// The filters as the API's query string (without the cursor).
#[derive(Clone, Default, PartialEq)]
struct Filters {
    actor: String,
    resource_type: String,
    action: String,
    /// `YYYY-MM-DD`, from the date inputs: whole days, UTC.
    from: String,
    to: String,
}

impl Filters {
    fn query(&self) -> String {
        let mut query = String::from("limit=50");
        let mut add = |name: &str, value: &str| {
            if !value.trim().is_empty() {
                query.push_str(&format!("&{name}={}", encode(value.trim())));
            }
        };
        add("actor", &self.actor);
        add("resourceType", &self.resource_type);
        add("action", &self.action);
        if !self.from.is_empty() {
            add("from", &format!("{}T00:00:00Z", self.from));
        }
        // The end date is included: entries before the end of that day.
        if !self.to.is_empty() {
            add("to", &format!("{}T23:59:59.999Z", self.to));
        }
        query
    }
}

/// The route of the audit log, loaded lazily: the page's code is a wasm chunk of its own, fetched the first
/// time the page is shown (`scripts/build-site` splits it out), not part of every page's first load.
pub struct SettingsAuditRoute;

#[lazy_route]
impl LazyRoute for SettingsAuditRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SettingsAudit/> }.into_any()
    }
}

#[component]
pub fn SettingsAudit() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let applied = RwSignal::new(Filters::default());
    let first_page = Resource::new(move || applied.get().query(), {
        let (api, path) = (api.clone(), ws.api("/audit-log"));
        move |query| api.get::<AuditPage>(format!("{path}?{query}"))
    });
    let members = Resource::new(|| (), {
        let (api, path) = (api.clone(), ws.api("/members"));
        move |_| api.get::<Vec<Member>>(path.clone())
    });
    let workspace = Resource::new(|| (), {
        let (api, path) = (api.clone(), ws.api(""));
        move |_| api.get::<Workspace>(path.clone())
    });
    view! {
        <Title text="Audit log"/>
        <PageHeader title="Settings" subtitle=ws.name.clone()/>
        <SettingsTabs/>
        {if ws.can(Role::Admin) {
            view! {
                <div class="stack">
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            workspace.await.ok().map(|w| view! { <RetentionForm days=w.audit_retention_days/> })
                        })}
                    </Suspense>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            let members = members.await.unwrap_or_default();
                            view! { <AuditFilters members=members applied=applied/> }
                        })}
                    </Suspense>
                    <Transition fallback=Loading>
                        {move || Suspend::new(async move {
                            match first_page.await {
                                Ok(page) => view! { <AuditEntries first=page filters=applied.get_untracked()/> }.into_any(),
                                Err(e) => error_view(e),
                            }
                        })}
                    </Transition>
                </div>
            }
            .into_any()
        } else {
            view! { <div class="card"><div class="empty"><p>"The audit log is for the workspace's admins."</p></div></div> }.into_any()
        }}
    }
}

/// How long entries are kept (a scheduled job deletes older ones every night).
#[component]
fn RetentionForm(days: u32) -> impl IntoView {
    let value = RwSignal::new(days.to_string());
    let error = RwSignal::new(None::<ApiError>);
    let save = super::settings::update_workspace_action();
    report(save, error, "Saved.", |_| {});
    let error_signal: Signal<Option<ApiError>> = error.into();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match value.get_untracked().trim().parse::<u32>() {
            Ok(days) => {
                save.dispatch(UpdateWorkspace {
                    audit_retention_days: Some(days),
                    ..Default::default()
                });
            }
            Err(_) => error.set(Some(ApiError {
                status: 422,
                code: "validation_failed".into(),
                message: "auditRetentionDays must be a whole number of days".into(),
                field: Some("auditRetentionDays".into()),
                current_revision: None,
            })),
        }
    };
    view! {
        <form class="card" on:submit=submit>
            <div class="card-body form-row">
                <TextField label="Keep entries for (days)" field="auditRetentionDays" kind="number" value=value error=error_signal
                    help="Older entries are deleted every night. 400 days unless you change it."/>
                <button type="submit" class="btn" disabled=move || save.pending().get()>"Save"</button>
            </div>
        </form>
    }
}

#[component]
fn AuditFilters(members: Vec<Member>, applied: RwSignal<Filters>) -> impl IntoView {
    let draft = RwSignal::new(applied.get_untracked());
    let field = move |get: fn(&Filters) -> &String, set: fn(&mut Filters, String)| {
        (
            move || draft.with(|f| get(f).clone()),
            move |ev: leptos::ev::Event| draft.update(|f| set(f, event_target_value(&ev))),
        )
    };
    let (actor, on_actor) = field(|f| &f.actor, |f, v| f.actor = v);
    let (kind, on_kind) = field(|f| &f.resource_type, |f, v| f.resource_type = v);
    let (action, on_action) = field(|f| &f.action, |f, v| f.action = v);
    let (from, on_from) = field(|f| &f.from, |f, v| f.from = v);
    let (to, on_to) = field(|f| &f.to, |f, v| f.to = v);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        applied.set(draft.get_untracked());
    };
    let clear = move |_| {
        draft.set(Filters::default());
        applied.set(Filters::default());
    };
    view! {
        <form class="card filters" on:submit=submit aria-label="Filter the audit log">
            <div class="card-body filter-row">
                <label class="field">
                    <span class="label">"Who"</span>
                    <select name="actor" prop:value=actor on:change=on_actor>
                        <option value="">"Anyone"</option>
                        {members.into_iter().map(|m| view! { <option value=m.email.clone()>{format!("{} ({})", m.name, m.email)}</option> }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="label">"What"</span>
                    <select name="resourceType" prop:value=kind on:change=on_kind>
                        {RESOURCE_TYPES.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="label">"Action"</span>
                    <input type="text" name="action" placeholder="source.updated, or source.*" prop:value=action on:input=on_action/>
                </label>
                <label class="field">
                    <span class="label">"From"</span>
                    <input type="date" name="from" prop:value=from on:input=on_from/>
                </label>
                <label class="field">
                    <span class="label">"To"</span>
                    <input type="date" name="to" prop:value=to on:input=on_to/>
                </label>
                <div class="filter-actions">
                    <button type="submit" class="btn primary">"Filter"</button>
                    <button type="button" class="btn" on:click=clear>"Clear"</button>
                </div>
            </div>
        </form>
    }
}

/// The entries of the first page, and the older ones as they are asked for.
#[component]
fn AuditEntries(first: AuditPage, filters: Filters) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let entries = RwSignal::new(first.entries);
    let cursor = RwSignal::new(first.next_cursor);
    let error = RwSignal::new(None::<ApiError>);
    let older = Action::new({
        let (api, path, query) = (api.clone(), ws.api("/audit-log"), filters.query());
        move |cursor: &String| {
            let (api, url) = (
                api.clone(),
                format!("{path}?{query}&cursor={}", encode(cursor)),
            );
            async move { api.get::<AuditPage>(url).await }
        }
    });
    Effect::new(move |_| match older.value().get() {
        Some(Ok(page)) => {
            entries.update(|list| list.extend(page.entries));
            cursor.set(page.next_cursor);
        }
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let error_signal: Signal<Option<ApiError>> = error.into();
    view! {
        <ApiErrorAlert error=error_signal/>
        <div class="card">
            {move || {
                let list = entries.get();
                if list.is_empty() {
                    return view! { <div class="empty"><p>"No entry matches."</p></div> }.into_any();
                }
                view! {
                    <table class="list audit">
                        <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"What"</th><th>"Changes"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|entry| view! { <AuditRow entry=entry/> }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {move || cursor.get().map(|next| view! {
                <div class="card-footer">
                    <button type="button" class="btn" disabled=move || older.pending().get() on:click=move |_| { older.dispatch(next.clone()); }>"Older entries"</button>
                </div>
            })}
        </div>
    }
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let when = entry.at.replace('T', " ").trim_end_matches('Z').to_string();
    let when = when.split('.').next().unwrap_or(&when).to_string();
    let from = match (&entry.ip, &entry.user_agent) {
        (Some(ip), Some(agent)) => format!("from {ip}, {agent}"),
        (Some(ip), None) => format!("from {ip}"),
        _ => String::new(),
    };
    let target = entry
        .resource_name
        .clone()
        .unwrap_or_else(|| entry.resource_id.clone());
    view! {
        <tr data-action=entry.action.clone()>
            <td class="nowrap">{when}</td>
            <td>
                <div>{entry.actor.label.clone()}</div>
                <div class="muted small">{from}</div>
            </td>
            <td>
                <div><code>{entry.action.clone()}</code></div>
                <div class="muted small">{target}</div>
            </td>
            <td>
                <ul class="changes">
                    {entry.changes.into_iter().map(|(field, change)| view! {
                        <li><code>{field}</code>": "{describe(&change)}</li>
                    }).collect_view()}
                </ul>
            </td>
        </tr>
    }
}

fn describe(change: &Change) -> String {
    let show = |value: &Option<Value>| match value {
        None => "∅".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    match (&change.before, &change.after) {
        (None, Some(_)) => show(&change.after),
        (Some(_), None) => format!("{} → removed", show(&change.before)),
        _ => format!("{} → {}", show(&change.before), show(&change.after)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_the_apis_query_string() {
        assert_eq!(Filters::default().query(), "limit=50");
        let filters = Filters {
            actor: "ada@example.com".into(),
            resource_type: "source".into(),
            action: " source.* ".into(),
            from: "2026-11-01".into(),
            to: "2026-11-27".into(),
        };
        assert_eq!(
            filters.query(),
            "limit=50&actor=ada%40example.com&resourceType=source&action=source.%2A\
             &from=2026-11-01T00%3A00%3A00Z&to=2026-11-27T23%3A59%3A59.999Z"
        );
    }
}
