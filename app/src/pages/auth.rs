//! Sign-in, first-run set-up, invites and password reset: the pages a visitor sees before signing in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{go, safe_next};
use crate::api::auth::{
    LoginRequest, Me, PasswordResetConfirm, PasswordResetRequest, SetupRequest, SetupStatus,
};
use crate::api::workspaces::{AcceptInvite as AcceptInviteBody, InviteAccepted, InvitePreview};
use crate::api::{use_api, ApiError};
use crate::components::layout::AuthShell;
use crate::components::{ApiErrorAlert, Loading, TextField};

pub fn failed<I, T>(action: Action<I, Result<T, ApiError>>) -> Signal<Option<ApiError>>
where
    I: Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

#[component]
pub fn Login() -> impl IntoView {
    let api = use_api();
    let query = use_query_map();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let login = Action::new({
        let api = api.clone();
        move |body: &LoginRequest| {
            let (api, body) = (api.clone(), body.clone());
            async move { api.post::<_, Me>("/api/v1/auth/login", &body).await }
        }
    });
    let error = failed(login);
    Effect::new(move |_| {
        if let Some(Ok(_)) = login.value().get() {
            go(&safe_next(query.with_untracked(|q| q.get("next"))));
        }
    });
    let setup = Resource::new(|| (), move |_| api.get::<SetupStatus>("/api/v1/setup"));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        login.dispatch(LoginRequest {
            email: email.get_untracked(),
            password: password.get_untracked(),
        });
    };
    view! {
        <Title text="Sign in"/>
        <AuthShell>
            <h1>"Sign in"</h1>
            <p class="lead">"Welcome back to Wheelhouse."</p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    matches!(setup.await, Ok(SetupStatus { needs_setup: true })).then(|| view! {
                        <div class="alert info spaced-bottom">
                            "This instance has no account yet. Open the set-up link the server printed when it started."
                        </div>
                    })
                })}
            </Suspense>
            <form class="form" on:submit=submit>
                <ApiErrorAlert error=error/>
                <TextField label="Email" field="email" kind="email" value=email error=error autocomplete="username" required=true autofocus=true/>
                <TextField label="Password" field="password" kind="password" value=password error=error autocomplete="current-password" required=true/>
                <button type="submit" class="btn primary" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
            <div class="below"><a href="/forgot-password">"Forgot your password?"</a></div>
        </AuthShell>
    }
}

#[component]
pub fn Setup() -> impl IntoView {
    let api = use_api();
    let query = use_query_map();
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let workspace = RwSignal::new(String::from("My workspace"));
    let setup = Action::new(move |body: &SetupRequest| {
        let (api, body) = (api.clone(), body.clone());
        async move { api.post::<_, Me>("/api/v1/setup", &body).await }
    });
    let error = failed(setup);
    Effect::new(move |_| {
        if let Some(Ok(_)) = setup.value().get() {
            go("/");
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        setup.dispatch(SetupRequest {
            token: query.with_untracked(|q| q.get("token")).unwrap_or_default(),
            email: email.get_untracked(),
            name: name.get_untracked(),
            password: password.get_untracked(),
            workspace_name: workspace.get_untracked(),
        });
    };
    view! {
        <Title text="Set up Wheelhouse"/>
        <AuthShell>
            <h1>"Set up Wheelhouse"</h1>
            <p class="lead">"Create the owner account of this instance and its first workspace."</p>
            <form class="form" on:submit=submit>
                <ApiErrorAlert error=error/>
                <FieldErrorFor error=error field="token"/>
                <TextField label="Your name" field="name" value=name error=error autocomplete="name" required=true autofocus=true/>
                <TextField label="Email" field="email" kind="email" value=email error=error autocomplete="username" required=true/>
                <TextField label="Password" field="password" kind="password" value=password error=error autocomplete="new-password" required=true help="At least 10 characters."/>
                <TextField label="Workspace name" field="workspaceName" value=workspace error=error required=true/>
                <button type="submit" class="btn primary" disabled=move || setup.pending().get()>"Create account"</button>
            </form>
        </AuthShell>
    }
}

/// A field error shown as an alert (for fields without an input, like a link's token).
#[component]
fn FieldErrorFor(error: Signal<Option<ApiError>>, field: &'static str) -> impl IntoView {
    move || {
        error
            .get()
            .and_then(|e| e.field_error(field))
            .map(|m| view! { <div class="alert error">{m}</div> })
    }
}

#[component]
pub fn ForgotPassword() -> impl IntoView {
    let api = use_api();
    let email = RwSignal::new(String::new());
    let request = Action::new(move |body: &PasswordResetRequest| {
        let (api, body) = (api.clone(), body.clone());
        async move {
            api.post_no_content("/api/v1/auth/password-reset", &body)
                .await
        }
    });
    let error = failed(request);
    let sent = move || matches!(request.value().get(), Some(Ok(())));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        request.dispatch(PasswordResetRequest {
            email: email.get_untracked(),
        });
    };
    view! {
        <Title text="Reset your password"/>
        <AuthShell>
            <h1>"Reset your password"</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <p class="lead">"We will email you a link to choose a new password."</p>
                    <form class="form" on:submit=submit>
                        <ApiErrorAlert error=error/>
                        <TextField label="Email" field="email" kind="email" value=email error=error autocomplete="username" required=true autofocus=true/>
                        <button type="submit" class="btn primary" disabled=move || request.pending().get()>"Send the link"</button>
                    </form>
                }
            >
                <div class="alert success">"If an account exists for that address, a reset link is on its way. It works for one hour."</div>
            </Show>
            <div class="below"><a href="/login">"Back to sign in"</a></div>
        </AuthShell>
    }
}

#[component]
pub fn ResetPassword() -> impl IntoView {
    let api = use_api();
    let query = use_query_map();
    let password = RwSignal::new(String::new());
    let confirm_password = RwSignal::new(String::new());
    let mismatch = RwSignal::new(None::<ApiError>);
    let reset = Action::new(move |body: &PasswordResetConfirm| {
        let (api, body) = (api.clone(), body.clone());
        async move {
            api.post_no_content("/api/v1/auth/password-reset/confirm", &body)
                .await
        }
    });
    let error = Signal::derive(move || {
        mismatch
            .get()
            .or_else(|| reset.value().get().and_then(|r| r.err()))
    });
    let done = move || matches!(reset.value().get(), Some(Ok(())));
    // For password managers: which account's password this form changes (the link carries it).
    let account_email = move || query.with(|q| q.get("email")).unwrap_or_default();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if password.get_untracked() != confirm_password.get_untracked() {
            mismatch.set(Some(ApiError {
                status: 422,
                code: "validation_failed".into(),
                message: "The two passwords differ.".into(),
                field: Some("confirmPassword".into()),
                current_revision: None,
            }));
            return;
        }
        mismatch.set(None);
        reset.dispatch(PasswordResetConfirm {
            token: query.with_untracked(|q| q.get("token")).unwrap_or_default(),
            new_password: password.get_untracked(),
        });
    };
    view! {
        <Title text="Choose a new password"/>
        <AuthShell>
            <h1>"Choose a new password"</h1>
            <Show
                when=done
                fallback=move || view! {
                    <form class="form" on:submit=submit>
                        <ApiErrorAlert error=error/>
                        <FieldErrorFor error=error field="token"/>
                        <input type="email" name="username" autocomplete="username" value=account_email readonly hidden/>
                        <TextField label="New password" field="newPassword" kind="password" value=password error=error autocomplete="new-password" required=true autofocus=true help="At least 10 characters."/>
                        <TextField label="Repeat it" field="confirmPassword" kind="password" value=confirm_password error=error autocomplete="new-password" required=true/>
                        <button type="submit" class="btn primary" disabled=move || reset.pending().get()>"Set the password"</button>
                    </form>
                }
            >
                <div class="alert success">"Your password is changed, and your other sessions are signed out."</div>
                <div class="below"><a class="btn primary" href="/login">"Sign in"</a></div>
            </Show>
        </AuthShell>
    }
}

#[component]
pub fn AcceptInvite() -> impl IntoView {
    let api = use_api();
    let query = use_query_map();
    let token: Memo<String> =
        Memo::new(move |_| query.with(|m| m.get("token")).unwrap_or_default());
    let preview = Resource::new(move || token.get(), {
        let api = api.clone();
        move |token: String| {
            let api = api.clone();
            async move {
                api.get::<InvitePreview>(format!(
                    "/api/v1/invites/preview?token={}",
                    crate::session::encode(&token)
                ))
                .await
            }
        }
    });
    let me = Resource::new(|| (), {
        let api = api.clone();
        move |_| api.get::<Me>("/api/v1/me")
    });
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let accept = Action::new(move |body: &AcceptInviteBody| {
        let (api, body) = (api.clone(), body.clone());
        async move {
            api.post::<_, InviteAccepted>("/api/v1/invites/accept", &body)
                .await
        }
    });
    let error = failed(accept);
    Effect::new(move |_| {
        if let Some(Ok(accepted)) = accept.value().get() {
            go(&format!("/w/{}", accepted.workspace_id));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (name, password) = (name.get_untracked(), password.get_untracked());
        accept.dispatch(AcceptInviteBody {
            token: token.get_untracked(),
            name: (!name.is_empty()).then_some(name),
            password: (!password.is_empty()).then_some(password),
        });
    };
    view! {
        <Title text="Join a workspace"/>
        <AuthShell>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let preview = match preview.await {
                        Ok(p) => p,
                        Err(e) => return view! {
                            <h1>"This invite cannot be used"</h1>
                            <p class="lead">{e.message}</p>
                            <div class="below"><a href="/login">"Go to sign in"</a></div>
                        }.into_any(),
                    };
                    let signed_in_as = me.await.ok().map(|m| m.user.email);
                    let mode = match &signed_in_as {
                        Some(email) if *email == preview.email => "signed-in",
                        Some(_) => "other-account",
                        None if preview.account_exists => "existing",
                        None => "new",
                    };
                    view! {
                        <h1>{format!("Join {}", preview.workspace_name)}</h1>
                        <p class="lead">{format!("You are invited as {} ({}).", preview.role.label().to_lowercase(), preview.email)}</p>
                        {(mode == "other-account").then(|| view! {
                            <div class="alert warning spaced-bottom">
                                {format!("You are signed in as {}, but this invite is for {}. Sign out, then open the link again.", signed_in_as.clone().unwrap_or_default(), preview.email)}
                            </div>
                        })}
                        <form class="form" on:submit=submit>
                            <ApiErrorAlert error=error/>
                            <FieldErrorFor error=error field="token"/>
                            {(mode == "new" || mode == "existing").then(|| view! {
                                <input type="email" name="username" autocomplete="username" value=preview.email.clone() readonly hidden/>
                            })}
                            {(mode == "new").then(|| view! {
                                <TextField label="Your name" field="name" value=name error=error autocomplete="name" required=true autofocus=true/>
                                <TextField label="Choose a password" field="password" kind="password" value=password error=error autocomplete="new-password" required=true help="At least 10 characters."/>
                            })}
                            {(mode == "existing").then(|| view! {
                                <TextField label="Your password" field="password" kind="password" value=password error=error autocomplete="current-password" required=true autofocus=true help="You already have an account with this email."/>
                            })}
                            <button type="submit" class="btn primary" disabled=move || accept.pending().get() || mode == "other-account">
                                "Accept the invite"
                            </button>
                        </form>
                    }.into_any()
                })}
            </Suspense>
        </AuthShell>
    }
}
