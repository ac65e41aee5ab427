//! Workspace settings: name, audit retention and deletion, members and invites, API tokens, data-plane
//! tokens. The audit log is `audit`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::{lazy_route, LazyRoute};

use super::{confirm, go};
use crate::api::tokens::{
    ApiToken, CreateApiToken, CreateDataPlaneToken, CreatedToken, DataPlaneToken,
};
use crate::api::workspaces::{
    CreateInvite, Invite, Member, Role, TransferOwnership, UpdateMember, UpdateWorkspace, Workspace,
};
use crate::api::{use_api, ApiError};
use crate::components::layout::{error_view, PageHeader};
use crate::components::{report, use_browser_origin, ApiErrorAlert, Loading, ShownOnce, TextField};
use crate::session::{reload_me, use_workspace};

#[component]
pub fn SettingsTabs() -> impl IntoView {
    let ws = use_workspace();
    view! {
        <nav class="tabs" aria-label="Settings">
            <A href=ws.href("/settings") exact=true>"General"</A>
            <A href=ws.href("/settings/members")>"Members"</A>
            {ws.can(Role::Admin).then(|| view! {
                <A href=ws.href("/settings/api-tokens")>"API tokens"</A>
                <A href=ws.href("/settings/data-planes")>"Data planes"</A>
                <A href=ws.href("/settings/audit")>"Audit log"</A>
            })}
        </nav>
    }
}

fn role_options(max: Role, include_owner: bool) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| max.at_least(*r) && (include_owner || *r != Role::Owner))
        .collect()
}

/// The route of the general settings, loaded lazily (its forms are not part of every page's first load).
pub struct SettingsGeneralRoute;

#[lazy_route]
impl LazyRoute for SettingsGeneralRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SettingsGeneral/> }.into_any()
    }
}

#[component]
pub fn SettingsGeneral() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let is_admin = ws.can(Role::Admin);
    let is_owner = ws.can(Role::Owner);
    let name = RwSignal::new(ws.name.clone());
    let error = RwSignal::new(None::<ApiError>);
    let rename = update_workspace_action();
    report(rename, error, "Workspace renamed.", |_| reload_me());
    let delete = Action::new({
        let (api, path) = (api.clone(), ws.api(""));
        move |_: &()| {
            let (api, path) = (api.clone(), path.clone());
            async move { api.delete(path).await }
        }
    });
    report(delete, error, "", |_| go("/"));
    let members = Resource::new(|| (), {
        let (api, path) = (api.clone(), ws.api("/members"));
        move |_| api.get::<Vec<Member>>(path.clone())
    });
    let transfer_to = RwSignal::new(String::new());
    let transfer = Action::new({
        let (api, path) = (api.clone(), ws.api("/transfer"));
        move |body: &TransferOwnership| {
            let (api, path, body) = (api.clone(), path.clone(), body.clone());
            async move { api.post_no_content(path, &body).await }
        }
    });
    report(transfer, error, "", |_| go("/"));
    let error_signal: Signal<Option<ApiError>> = error.into();
    let workspace_name = ws.name.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        rename.dispatch(UpdateWorkspace {
            name: Some(name.get_untracked()),
            ..Default::default()
        });
    };
    let delete_workspace = move |_| {
        if confirm(&format!("Delete the workspace \"{workspace_name}\" with all its sources, destinations, credentials and tokens? This cannot be undone.")) {
            delete.dispatch(());
        }
    };
    let hand_over = move |_| {
        let user_id = transfer_to.get_untracked();
        if !user_id.is_empty() && confirm("Hand this workspace over? The new owner can then delete it; you stay on as an admin.") {
            transfer.dispatch(TransferOwnership { user_id });
        }
    };
    let me_id = ws.me.user.id.clone();
    let workspace = Resource::new(|| (), {
        let (api, path) = (api.clone(), ws.api(""));
        move |_| api.get::<Workspace>(path.clone())
    });
    view! {
        <Title text="Settings"/>
        <PageHeader title="Settings" subtitle=ws.name.clone()/>
        <SettingsTabs/>
        <ApiErrorAlert error=error_signal beside=&["name"]/>
        <div class="stack">
            <form class="card" on:submit=submit>
                <div class="card-header"><h2>"General"</h2></div>
                <div class="card-body form">
                    <TextField label="Workspace name" field="name" value=name error=error_signal required=true/>
                    <div class="kv"><span class="k">"Workspace id"</span><code>{ws.id.clone()}</code></div>
                    <div class="kv"><span class="k">"Your role"</span><span><span class="badge role">{ws.role.label()}</span></span></div>
                </div>
                {is_admin.then(|| view! {
                    <div class="card-footer"><button type="submit" class="btn primary" disabled=move || rename.pending().get()>"Save"</button></div>
                })}
            </form>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    workspace.await.ok().map(|w| view! {
                        <LivePayloadsForm enabled=w.live_payloads/>
                        <VolumeSettingsForm workspace=w/>
                    })
                })}
            </Suspense>
            {is_owner.then(|| view! {
                <div class="card">
                    <div class="card-header"><h2>"Hand over"</h2><span class="hint">"Make another member the owner; you become an admin"</span></div>
                    <div class="card-body row">
                        <Suspense fallback=|| ()>
                            {move || {
                                let me_id = me_id.clone();
                                Suspend::new(async move {
                                    let others: Vec<Member> = members.await.unwrap_or_default().into_iter().filter(|m| m.user_id != me_id).collect();
                                    if others.is_empty() {
                                        return view! { <span class="muted">"Invite someone first: the workspace has no other member."</span> }.into_any();
                                    }
                                    view! {
                                        <select aria-label="New owner" class="picker wide" on:change=move |ev| transfer_to.set(event_target_value(&ev))>
                                            <option value="">"Choose a member"</option>
                                            {others.into_iter().map(|m| view! { <option value=m.user_id.clone()>{format!("{} ({})", m.name, m.email)}</option> }).collect_view()}
                                        </select>
                                        <button type="button" class="btn" on:click=hand_over>"Hand over"</button>
                                    }.into_any()
                                })
                            }}
                        </Suspense>
                    </div>
                </div>
                <div class="card">
                    <div class="card-header"><h2>"Delete this workspace"</h2></div>
                    <div class="card-body row">
                        <span class="muted">"Deletes its sources, destinations, stored credentials and tokens. Data planes using it get 401 at their next poll."</span>
                        <span class="spacer"></span>
                        <button type="button" class="btn danger" on:click=delete_workspace>"Delete workspace"</button>
                    </div>
                </div>
            })}
        </div>
    }
}

/// `PATCH /api/v1/workspaces/{ws}`, for the forms that change the workspace's name or settings.
pub fn update_workspace_action() -> Action<UpdateWorkspace, Result<Workspace, ApiError>> {
    let (api, path) = (use_api(), use_workspace().api(""));
    Action::new(move |body: &UpdateWorkspace| {
        let (api, path, body) = (api.clone(), path.clone(), body.clone());
        async move { api.patch::<_, Workspace>(path, &body).await }
    })
}

/// Whether the live debugger keeps event payloads and destination responses (admins change it).
#[component]
fn LivePayloadsForm(enabled: bool) -> impl IntoView {
    let ws = use_workspace();
    let is_admin = ws.can(Role::Admin);
    let capture = RwSignal::new(enabled);
    let error = RwSignal::new(None::<ApiError>);
    let save = update_workspace_action();
    report(save, error, "Saved.", |_| {});
    let error_signal: Signal<Option<ApiError>> = error.into();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(UpdateWorkspace {
            live_payloads: Some(capture.get_untracked()),
            ..Default::default()
        });
    };
    view! {
        <form class="card" on:submit=submit>
            <div class="card-header"><h2>"Live debugger"</h2></div>
            <div class="card-body form">
                <ApiErrorAlert error=error_signal/>
                <div class="field">
                    <label class="check">
                        <input type="checkbox" name="livePayloads" data-testid="live-payloads" disabled=!is_admin
                            prop:checked=move || capture.get() on:change=move |ev| capture.set(event_target_checked(&ev))/>
                        "Capture event payloads in the live debugger"
                    </label>
                    <div class="help">"When off, payloads and destination responses are dropped as they arrive, for everyone. Viewers never see them."</div>
                </div>
            </div>
            {is_admin.then(|| view! {
                <div class="card-footer"><button type="submit" class="btn primary" disabled=move || save.pending().get()>"Save"</button></div>
            })}
        </form>
    }
}

/// Event volume and errors: whether samples of failed events are kept, and how long volume (per minute, hour
/// and day) and error reports are kept. Admins change them; others read them.
#[component]
fn VolumeSettingsForm(workspace: Workspace) -> impl IntoView {
    let ws = use_workspace();
    let is_admin = ws.can(Role::Admin);
    let drop_samples = RwSignal::new(workspace.disable_reporting_pii);
    let minutes = RwSignal::new(workspace.volume_minute_retention_hours.to_string());
    let hours = RwSignal::new(workspace.volume_hour_retention_days.to_string());
    let days = RwSignal::new(workspace.volume_day_retention_days.to_string());
    let errors = RwSignal::new(workspace.error_retention_days.to_string());
    let error = RwSignal::new(None::<ApiError>);
    let save = update_workspace_action();
    report(save, error, "Saved.", |_| {});
    let error_signal: Signal<Option<ApiError>> = error.into();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // A number the server would refuse anyway is named beside its field before anything is sent.
        let read = |value: RwSignal<String>, field: &str| {
            value
                .get_untracked()
                .trim()
                .parse::<u32>()
                .map_err(|_| ApiError {
                    status: 422,
                    code: "validation_failed".into(),
                    message: "Enter a whole number.".into(),
                    field: Some(field.into()),
                    current_revision: None,
                })
        };
        let body = (|| {
            Ok::<_, ApiError>(UpdateWorkspace {
                disable_reporting_pii: Some(drop_samples.get_untracked()),
                volume_minute_retention_hours: Some(read(minutes, "volumeMinuteRetentionHours")?),
                volume_hour_retention_days: Some(read(hours, "volumeHourRetentionDays")?),
                volume_day_retention_days: Some(read(days, "volumeDayRetentionDays")?),
                error_retention_days: Some(read(errors, "errorRetentionDays")?),
                ..Default::default()
            })
        })();
        match body {
            Ok(body) => {
                save.dispatch(body);
            }
            Err(invalid) => error.set(Some(invalid)),
        }
    };
    let kept = [
        (
            "Volume per minute",
            format!("{} hours", workspace.volume_minute_retention_hours),
        ),
        (
            "Volume per hour",
            format!("{} days", workspace.volume_hour_retention_days),
        ),
        (
            "Volume per day",
            format!("{} days", workspace.volume_day_retention_days),
        ),
        (
            "Error reports and samples",
            format!("{} days", workspace.error_retention_days),
        ),
    ];
    view! {
        <form class="card" on:submit=submit aria-label="Event volume and errors">
            <div class="card-header"><h2>"Event volume and errors"</h2><span class="hint">"What data planes report about the events they process"</span></div>
            <div class="card-body form">
                <ApiErrorAlert error=error_signal beside=&["volumeMinuteRetentionHours", "volumeHourRetentionDays", "volumeDayRetentionDays", "errorRetentionDays"]/>
                <div class="field">
                    <label class="check">
                        <input type="checkbox" name="disableReportingPii" data-testid="disable-reporting-pii" disabled=!is_admin
                            prop:checked=move || drop_samples.get() on:change=move |ev| drop_samples.set(event_target_checked(&ev))/>
                        "Drop event samples from error reports as they arrive"
                    </label>
                    <div class="help">"Samples (the event sent and the destination's answer) help find why deliveries fail; they can hold personal data. Counts are kept either way."</div>
                </div>
                {if is_admin {
                    view! {
                        <div class="grid-2">
                            <TextField label="Keep volume per minute for (hours)" field="volumeMinuteRetentionHours" kind="number" value=minutes error=error_signal
                                help="1 to 168; then it is kept per hour. 48 unless you change it."/>
                            <TextField label="Keep volume per hour for (days)" field="volumeHourRetentionDays" kind="number" value=hours error=error_signal
                                help="1 to 90; then it is kept per day. 30 unless you change it."/>
                            <TextField label="Keep volume per day for (days)" field="volumeDayRetentionDays" kind="number" value=days error=error_signal
                                help="1 to 3650. 400 unless you change it."/>
                            <TextField label="Keep error reports and samples for (days)" field="errorRetentionDays" kind="number" value=errors error=error_signal
                                help="1 to 365. 30 unless you change it."/>
                        </div>
                    }.into_any()
                } else {
                    view! {
                        <div class="kv" data-testid="volume-retention">
                            {kept.into_iter().map(|(what, how_long)| view! { <span class="k">{what}</span><span>{how_long}</span> }).collect_view()}
                        </div>
                    }.into_any()
                }}
            </div>
            {is_admin.then(|| view! {
                <div class="card-footer"><button type="submit" class="btn primary" data-testid="save-volume-settings" disabled=move || save.pending().get()>"Save"</button></div>
            })}
        </form>
    }
}

#[component]
pub fn SettingsMembers() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let is_admin = ws.can(Role::Admin);
    let version = RwSignal::new(0u32);
    let data = Resource::new(move || version.get(), {
        let ws = ws.clone();
        move |_| {
            let (api, ws) = (api.clone(), ws.clone());
            async move {
                let members = api.get::<Vec<Member>>(ws.api("/members")).await?;
                let invites = if ws.can(Role::Admin) {
                    api.get::<Vec<Invite>>(ws.api("/invites")).await?
                } else {
                    Vec::new()
                };
                Ok::<_, ApiError>((members, invites))
            }
        }
    });
    view! {
        <Title text="Members"/>
        <PageHeader title="Settings" subtitle=ws.name.clone()/>
        <SettingsTabs/>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((members, invites)) => view! { <MembersView members=members invites=invites version=version/> }.into_any(),
                    Err(e) => error_view(e),
                }
            })}
        </Transition>
        {is_admin.then(|| view! { <InviteForm version=version/> })}
    }
}

#[component]
fn MembersView(
    members: Vec<Member>,
    invites: Vec<Invite>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let is_admin = ws.can(Role::Admin);
    let error = RwSignal::new(None::<ApiError>);
    let change_role = Action::new({
        let (api, ws) = (api.clone(), ws.clone());
        move |(user_id, role): &(String, Role)| {
            let (api, path, role) = (api.clone(), ws.api(&format!("/members/{user_id}")), *role);
            async move { api.patch::<_, Member>(path, &UpdateMember { role }).await }
        }
    });
    report(change_role, error, "Role changed.", move |_| {
        version.update(|v| *v += 1)
    });
    let remove = Action::new({
        let (api, ws) = (api.clone(), ws.clone());
        move |user_id: &String| {
            let (api, path) = (api.clone(), ws.api(&format!("/members/{user_id}")));
            async move { api.delete(path).await }
        }
    });
    report(remove, error, "Member removed.", move |_| {
        version.update(|v| *v += 1)
    });
    let revoke = Action::new({
        let (api, ws) = (api.clone(), ws.clone());
        move |invite_id: &String| {
            let (api, path) = (api.clone(), ws.api(&format!("/invites/{invite_id}")));
            async move { api.delete(path).await }
        }
    });
    report(revoke, error, "Invite revoked.", move |_| {
        version.update(|v| *v += 1)
    });
    let me_id = ws.me.user.id.clone();
    view! {
        <ApiErrorAlert error=error.into() beside=&[]/>
        <div class="card">
            <div class="card-header"><h2>"Members"</h2><span class="hint">{match members.len() { 1 => "1 member".to_string(), n => format!("{n} members") }}</span></div>
            <table class="list">
                <thead><tr><th>"Name"</th><th>"Email"</th><th>"Role"</th><th></th></tr></thead>
                <tbody>
                    {members.into_iter().map(|m| {
                        let editable = is_admin && m.role != Role::Owner;
                        let user_id = m.user_id.clone();
                        let remove_id = m.user_id.clone();
                        let is_me = m.user_id == me_id;
                        let role_cell = if editable {
                            let current = m.role;
                            view! {
                                <select aria-label="Role" on:change=move |ev| {
                                    if let Some(role) = Role::parse(&event_target_value(&ev)) {
                                        change_role.dispatch((user_id.clone(), role));
                                    }
                                }>
                                    {role_options(Role::Admin, false).into_iter().map(|r| view! { <option value=r.as_str() selected=r == current>{r.label()}</option> }).collect_view()}
                                </select>
                            }.into_any()
                        } else {
                            view! { <span class="badge role">{m.role.label()}</span> }.into_any()
                        };
                        view! {
                            <tr>
                                <td>{m.name.clone()}{is_me.then(|| view! { <span class="faint">" (you)"</span> })}</td>
                                <td class="muted">{m.email.clone()}</td>
                                <td>{role_cell}</td>
                                <td class="actions">{(editable || (is_me && m.role != Role::Owner)).then(|| view! {
                                    <button type="button" class="btn small danger" on:click=move |_| {
                                        let question = if is_me { "Leave this workspace?" } else { "Remove this member from the workspace?" };
                                        if confirm(question) { remove.dispatch(remove_id.clone()); }
                                    }>{if is_me { "Leave" } else { "Remove" }}</button>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {(is_admin && !invites.is_empty()).then(|| view! {
            <div class="card">
                <div class="card-header"><h2>"Pending invites"</h2></div>
                <table class="list">
                    <thead><tr><th>"Email"</th><th>"Role"</th><th>"Invited by"</th><th>"Expires"</th><th></th></tr></thead>
                    <tbody>
                        {invites.into_iter().map(|i| {
                            let id = i.id.clone();
                            view! {
                                <tr>
                                    <td>{i.email.clone()}</td>
                                    <td><span class="badge role">{i.role.label()}</span></td>
                                    <td class="muted">{i.invited_by.clone()}</td>
                                    <td class="muted">{i.expires_at.chars().take(10).collect::<String>()}</td>
                                    <td class="actions"><button type="button" class="btn small" on:click=move |_| { revoke.dispatch(id.clone()); }>"Revoke"</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
    }
}

#[component]
fn InviteForm(version: RwSignal<u32>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let email = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Editor);
    let error = RwSignal::new(None::<ApiError>);
    let invite = Action::new({
        let path = ws.api("/invites");
        move |body: &CreateInvite| {
            let (api, path, body) = (api.clone(), path.clone(), body.clone());
            async move { api.post::<_, Invite>(path, &body).await }
        }
    });
    report(invite, error, "Invite sent.", move |_| {
        email.set(String::new());
        version.update(|v| *v += 1);
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        invite.dispatch(CreateInvite {
            email: email.get_untracked(),
            role: role.get_untracked(),
        });
    };
    let error_signal: Signal<Option<ApiError>> = error.into();
    view! {
        <form class="card" on:submit=submit>
            <div class="card-header"><h2>"Invite someone"</h2><span class="hint">"They get an email with a link that works for 7 days"</span></div>
            <div class="card-body form">
                <ApiErrorAlert error=error_signal beside=&["email"]/>
                <div class="grid-2">
                    <TextField label="Email" field="email" kind="email" value=email error=error_signal required=true/>
                    <div class="field">
                        <label for="invite-role">"Role"</label>
                        <select id="invite-role" on:change=move |ev| { if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) } }>
                            {role_options(Role::Admin, false).into_iter().map(|r| view! { <option value=r.as_str() selected=r == Role::Editor>{r.label()}</option> }).collect_view()}
                        </select>
                        <div class="help">"Viewers read; editors change sources, destinations and connections; admins also manage people and tokens."</div>
                    </div>
                </div>
            </div>
            <div class="card-footer"><button type="submit" class="btn primary" disabled=move || invite.pending().get()>"Send invite"</button></div>
        </form>
    }
}

#[component]
pub fn SettingsApiTokens() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let version = RwSignal::new(0u32);
    let tokens = Resource::new(move || version.get(), {
        let (api, path) = (api.clone(), format!("/api/v1/tokens?workspaceId={}", ws.id));
        move |_| api.get::<Vec<ApiToken>>(path.clone())
    });
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let created = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<ApiError>);
    let create = Action::new({
        let (api, workspace_id) = (api.clone(), ws.id.clone());
        move |(name, role): &(String, Role)| {
            let body = CreateApiToken {
                name: name.clone(),
                workspace_id: workspace_id.clone(),
                role: *role,
            };
            let api = api.clone();
            async move { api.post::<_, CreatedToken>("/api/v1/tokens", &body).await }
        }
    });
    report(create, error, "", move |token: CreatedToken| {
        name.set(String::new());
        created.set(Some(token.token));
        version.update(|v| *v += 1);
    });
    let revoke = Action::new(move |id: &String| {
        let (api, path) = (api.clone(), format!("/api/v1/tokens/{id}"));
        async move { api.delete(path).await }
    });
    report(revoke, error, "Token revoked.", move |_| {
        version.update(|v| *v += 1)
    });
    let error_signal: Signal<Option<ApiError>> = error.into();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch((name.get_untracked(), role.get_untracked()));
    };
    let my_role = ws.role;
    view! {
        <Title text="API tokens"/>
        <PageHeader title="Settings" subtitle=ws.name.clone()/>
        <SettingsTabs/>
        <div class="stack">
            <form class="card" on:submit=submit>
                <div class="card-header"><h2>"Create an API token"</h2><span class="hint">"For scripts and tools: Authorization: Bearer <token> on /api/v1"</span></div>
                <div class="card-body form">
                    {move || created.get().map(|token| view! { <ShownOnce what="API token" value=token on_done=Callback::new(move |_| created.set(None))/> })}
                    <ApiErrorAlert error=error_signal beside=&["name"]/>
                    <div class="grid-2">
                        <TextField label="Name" field="name" value=name error=error_signal required=true placeholder="e.g. CI deploys"/>
                        <div class="field">
                            <label for="token-role">"Role"</label>
                            <select id="token-role" on:change=move |ev| { if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) } }>
                                {role_options(my_role, true).into_iter().map(|r| view! { <option value=r.as_str() selected=r == Role::Viewer>{r.label()}</option> }).collect_view()}
                            </select>
                            <div class="help">"A token never has more rights than its creator."</div>
                        </div>
                    </div>
                </div>
                <div class="card-footer"><button type="submit" class="btn primary" disabled=move || create.pending().get()>"Create token"</button></div>
            </form>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    let tokens = match tokens.await {
                        Ok(t) => t,
                        Err(e) => return error_view(e),
                    };
                    view! {
                        <div class="card">
                            <div class="card-header"><h2>"API tokens"</h2></div>
                            {if tokens.is_empty() {
                                view! { <div class="card-body muted">"No API token yet."</div> }.into_any()
                            } else {
                                view! {
                                    <table class="list">
                                        <thead><tr><th>"Name"</th><th>"Token"</th><th>"Role"</th><th>"Created by"</th><th>"Last used"</th><th></th></tr></thead>
                                        <tbody>
                                            {tokens.into_iter().map(|t| {
                                                let id = t.id.clone();
                                                view! {
                                                    <tr>
                                                        <td>{t.name.clone()}</td>
                                                        <td><code>{format!("{}…", t.prefix)}</code></td>
                                                        <td><span class="badge role">{t.role.label()}</span></td>
                                                        <td class="muted">{t.created_by.clone()}</td>
                                                        <td class="muted">{t.last_used_at.clone().map(|d| d.chars().take(10).collect::<String>()).unwrap_or_else(|| "Never".into())}</td>
                                                        <td class="actions"><button type="button" class="btn small danger" on:click=move |_| {
                                                            if confirm("Revoke this token? Scripts using it get 401 at once.") { revoke.dispatch(id.clone()); }
                                                        }>"Revoke"</button></td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                        </div>
                    }.into_any()
                })}
            </Transition>
        </div>
    }
}

#[component]
pub fn SettingsDataPlanes() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let version = RwSignal::new(0u32);
    let tokens = Resource::new(move || version.get(), {
        let (api, path) = (api.clone(), ws.api("/data-plane-tokens"));
        move |_| api.get::<Vec<DataPlaneToken>>(path.clone())
    });
    let name = RwSignal::new(String::new());
    let created = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<ApiError>);
    let create = Action::new({
        let (api, path) = (api.clone(), ws.api("/data-plane-tokens"));
        move |body: &CreateDataPlaneToken| {
            let (api, path, body) = (api.clone(), path.clone(), body.clone());
            async move { api.post::<_, CreatedToken>(path, &body).await }
        }
    });
    report(create, error, "", move |token: CreatedToken| {
        name.set(String::new());
        created.set(Some(token.token));
        version.update(|v| *v += 1);
    });
    let revoke = Action::new({
        let ws = ws.clone();
        move |id: &String| {
            let (api, path) = (api.clone(), ws.api(&format!("/data-plane-tokens/{id}")));
            async move { api.delete(path).await }
        }
    });
    report(revoke, error, "Token revoked.", move |_| {
        version.update(|v| *v += 1)
    });
    let error_signal: Signal<Option<ApiError>> = error.into();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateDataPlaneToken {
            name: name.get_untracked(),
        });
    };
    let origin = use_browser_origin();
    view! {
        <Title text="Data planes"/>
        <PageHeader title="Settings" subtitle=ws.name.clone()/>
        <SettingsTabs/>
        <div class="stack">
            <div class="card">
                <div class="card-header"><h2>"Connect a data plane"</h2></div>
                <div class="card-body">
                    <p class="muted">"Start rudder-server with these settings: it pulls this workspace's sources, destinations and credentials from Wheelhouse every few seconds."</p>
                    <pre class="snippet">{move || format!("CONFIG_BACKEND_URL={}\nWORKSPACE_TOKEN=<a data-plane token below>", origin.get())}</pre>
                </div>
            </div>
            <form class="card" on:submit=submit>
                <div class="card-header"><h2>"Create a data-plane token"</h2></div>
                <div class="card-body form">
                    {move || created.get().map(|token| view! { <ShownOnce what="data-plane token" value=token on_done=Callback::new(move |_| created.set(None))/> })}
                    <ApiErrorAlert error=error_signal beside=&["name"]/>
                    <TextField label="Name" field="name" value=name error=error_signal required=true placeholder="e.g. production eu-west-1"/>
                </div>
                <div class="card-footer"><button type="submit" class="btn primary" disabled=move || create.pending().get()>"Create token"</button></div>
            </form>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    let tokens = match tokens.await {
                        Ok(t) => t,
                        Err(e) => return error_view(e),
                    };
                    view! {
                        <div class="card">
                            <div class="card-header"><h2>"Data-plane tokens"</h2></div>
                            {if tokens.is_empty() {
                                view! { <div class="card-body muted">"No data plane can pull this workspace's config yet."</div> }.into_any()
                            } else {
                                view! {
                                    <table class="list">
                                        <thead><tr><th>"Name"</th><th>"Token"</th><th>"Created by"</th><th>"Last used"</th><th></th></tr></thead>
                                        <tbody>
                                            {tokens.into_iter().map(|t| {
                                                let id = t.id.clone();
                                                view! {
                                                    <tr>
                                                        <td>{t.name.clone()}</td>
                                                        <td><code>{format!("{}…", t.prefix)}</code></td>
                                                        <td class="muted">{t.created_by.clone()}</td>
                                                        <td class="muted">{t.last_used_at.clone().map(|d| d.chars().take(16).collect::<String>().replace('T', " ")).unwrap_or_else(|| "Never".into())}</td>
                                                        <td class="actions"><button type="button" class="btn small danger" on:click=move |_| {
                                                            if confirm("Revoke this token? Its data plane gets 401 at its next poll.") { revoke.dispatch(id.clone()); }
                                                        }>"Revoke"</button></td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                        </div>
                    }.into_any()
                })}
            </Transition>
        </div>
    }
}
