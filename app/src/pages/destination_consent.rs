//! A destination's Consent tab (`/w/:ws/destinations/:id/consent`): for each consent manager of the workspace,
//! which of its categories the destination requires (and for `custom`, whether all of them or any one is
//! enough), saved with `PUT …/destinations/{id}/consent`. The workspace's consent managers are set on the
//! consent page (`pages::consent`). A lazy route, as the other tabs: the destination's settings page is part
//! of the first load, this is not.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};

use super::live::DetailTabs;
use crate::api::consent::{ConsentSettings, DestinationConsent, DestinationConsentProvider};
use crate::api::destinations::Destination;
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};
use crate::components::layout::{error_view, PageHeader};
use crate::components::{report, Loading};
use crate::session::use_workspace;

/// How a consent manager is called in the UI.
pub fn provider_name(provider: &str) -> &str {
    match provider {
        "oneTrust" => "OneTrust",
        "ketch" => "Ketch",
        "iubenda" => "iubenda",
        "custom" => "Custom",
        other => other,
    }
}

/// A field as the API names it, dotted (`providers.1.categories.0.id`; `providers[1]…` reads the same).
pub fn dotted(field: &str) -> String {
    field.replace('[', ".").replace(']', "")
}

/// The index `k` of a field `providers.k…`.
pub fn provider_index(field: &str) -> Option<usize> {
    dotted(field)
        .strip_prefix("providers.")?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The error's message when it names `field` (dotted), to show beside it, without the path it may start
/// with: `<path> must not be empty` becomes "Must not be empty."; after `<path>: ` comes a value (an id,
/// case and all), kept as it is.
pub fn message_for(error: &ApiError, field: &str) -> Option<String> {
    let own = error.field.as_deref()?;
    if dotted(own) != field {
        return None;
    }
    let sentence = match error.message.strip_prefix(own) {
        Some(rest) if rest.starts_with(':') => rest[1..].trim_start().to_owned(),
        Some(rest) => {
            let mut chars = rest.trim_start().chars();
            let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
            first.unwrap_or_default() + chars.as_str()
        }
        None => error.message.clone(),
    };
    Some(if sentence.ends_with('.') {
        sentence
    } else {
        sentence + "."
    })
}

/// The route of a destination's Consent tab, loaded lazily.
pub struct DestinationConsentRoute;

#[lazy_route]
impl LazyRoute for DestinationConsentRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <DestinationConsentPage/> }.into_any()
    }
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct ConsentTab {
    destination: Destination,
    settings: ConsentSettings,
    consent: DestinationConsent,
}

#[component]
fn DestinationConsentPage() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|m| m.get("id")).unwrap_or_default());
    let data = Resource::new(move || id.get(), {
        let ws = ws.clone();
        move |id| {
            let (api, ws) = (api.clone(), ws.clone());
            async move {
                let path = ws.api(&format!("/destinations/{id}"));
                Ok::<_, ApiError>(ConsentTab {
                    destination: api.get(path.clone()).await?,
                    settings: api.get(ws.api("/consent")).await?,
                    consent: api.get(format!("{path}/consent")).await?,
                })
            }
        }
    });
    view! {
        <Suspense fallback=Loading>
            {move || {
                let ws = ws.clone();
                Suspend::new(async move {
                    let tab = match data.await {
                        Ok(tab) => tab,
                        Err(e) => return error_view(e),
                    };
                    let ConsentTab { destination, settings, consent } = tab;
                    let base = ws.href(&format!("/destinations/{}", destination.id));
                    let path = ws.api(&format!("/destinations/{}/consent", destination.id));
                    let warehouse = crate::api::warehouses::is_warehouse("destinations", &destination.destination_type);
                    let name = destination.name;
                    view! {
                        <Title text=format!("{name}: consent")/>
                        <div class="breadcrumbs"><a href=ws.href("/destinations")>"Destinations"</a>" / "{name.clone()}</div>
                        <PageHeader title=name/>
                        <DetailTabs base=base kind="destinations" warehouse=warehouse/>
                        <div class="card" data-testid="destination-consent">
                            <div class="card-header">
                                <h2>"Consent"</h2>
                                <span class="hint">"The consents an event needs to reach this destination"</span>
                            </div>
                            <ConsentForm settings consent path/>
                        </div>
                    }
                    .into_any()
                })
            }}
        </Suspense>
    }
}

#[component]
fn ConsentForm(
    settings: ConsentSettings,
    consent: DestinationConsent,
    path: String,
) -> impl IntoView {
    let ws = use_workspace();
    if settings.providers.is_empty() {
        return view! {
            <div class="card-body" data-testid="consent-none">
                <p class="muted">"This workspace has no consent manager yet: events reach this destination whatever their consents."</p>
                <a class="btn" href=ws.href("/consent")>"Set up consent management"</a>
            </div>
        }
        .into_any();
    }
    let can_edit = ws.can(Role::Editor);
    let required = RwSignal::new(consent);
    // What the last save sent: the error's `providers[k]` is the k-th entry of that body.
    let sent = RwSignal::new(DestinationConsent::default());
    let error = RwSignal::new(None::<ApiError>);
    let api = use_api();
    let save = Action::new(move |body: &DestinationConsent| {
        let (api, body, path) = (api.clone(), body.clone(), path.clone());
        async move { api.put::<_, DestinationConsent>(path, &body).await }
    });
    report(save, error, "Consent requirements saved.", move |saved| {
        required.set(saved)
    });
    let order: Vec<String> = settings
        .providers
        .iter()
        .map(|p| p.provider.clone())
        .collect();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut body = DestinationConsent::default();
        let current = required.get_untracked().providers;
        // The workspace's managers first, in its order; an entry for one it no longer has is kept as it is.
        let rank = |p: &DestinationConsentProvider| order.iter().position(|o| *o == p.provider);
        let mut entries: Vec<_> = current
            .into_iter()
            .filter(|p| !p.consents.is_empty())
            .collect();
        entries.sort_by_key(|p| rank(p).unwrap_or(usize::MAX));
        for mut p in entries {
            if p.provider == "custom" {
                p.resolution_strategy.get_or_insert_with(|| "and".into());
            } else if rank(&p).is_some() {
                p.resolution_strategy = None;
            }
            body.providers.push(p);
        }
        sent.set(body.clone());
        save.dispatch(body);
    };
    // An error beside the consent manager its field names, else above the form.
    let error_of = move |provider: Option<&str>| {
        let e = error.get()?;
        let named = e
            .field
            .as_deref()
            .and_then(provider_index)
            .and_then(|k| sent.with(|s| s.providers.get(k).map(|p| p.provider.clone())));
        if named.as_deref() != provider {
            return None;
        }
        // Beside its consent manager, the message without the field's path.
        let beside = provider
            .and(e.field.as_deref())
            .and_then(|f| message_for(&e, &dotted(f)));
        Some(beside.unwrap_or(e.message))
    };
    let fieldsets = settings
        .providers
        .into_iter()
        .map(|p| provider_fieldset(p.provider, p.categories, required, can_edit, error_of))
        .collect_view();
    view! {
        <form on:submit=submit>
            <div class="card-body form">
                {move || error_of(None).map(|m| view! { <div class="alert error" role="alert">{m}</div> })}
                <p class="muted small">"In cloud mode the data plane drops an event here when these consents are denied; in device mode the browser SDK sends it here only when they are allowed. "<a href=ws.href("/consent")>"Consent settings and simulator"</a></p>
                {fieldsets}
            </div>
            {can_edit.then(|| view! {
                <div class="card-footer">
                    <button type="submit" class="btn primary" data-testid="save-consent" disabled=move || save.pending().get()>"Save consent"</button>
                </div>
            })}
        </form>
    }
    .into_any()
}

fn provider_fieldset(
    provider: String,
    categories: Vec<crate::api::consent::ConsentCategory>,
    required: RwSignal<DestinationConsent>,
    can_edit: bool,
    error_of: impl Fn(Option<&str>) -> Option<String> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let name = provider_name(&provider).to_owned();
    let entry = {
        let provider = provider.clone();
        move |f: &mut dyn FnMut(&mut DestinationConsentProvider)| {
            required.update(|r| {
                if !r.providers.iter().any(|p| p.provider == provider) {
                    r.providers.push(DestinationConsentProvider {
                        provider: provider.clone(),
                        consents: Vec::new(),
                        resolution_strategy: None,
                    });
                }
                if let Some(p) = r.providers.iter_mut().find(|p| p.provider == provider) {
                    f(p);
                }
            })
        }
    };
    let is = {
        let provider = provider.clone();
        move |check: &dyn Fn(&DestinationConsentProvider) -> bool| {
            required.with(|r| {
                r.providers
                    .iter()
                    .any(|p| p.provider == provider && check(p))
            })
        }
    };
    let boxes = categories
        .into_iter()
        .map(|c| {
            let (id, toggle_id, entry, is) =
                (c.id.clone(), c.id.clone(), entry.clone(), is.clone());
            let toggle = move |ev| {
                let on = event_target_checked(&ev);
                entry(&mut |p| {
                    p.consents.retain(|x| *x != toggle_id);
                    if on {
                        p.consents.push(toggle_id.clone());
                    }
                })
            };
            let label = if c.label.is_empty() {
                c.id.clone()
            } else {
                c.label.clone()
            };
            let attribute = c.id.clone();
            view! {
                <label class="check">
                    <input type="checkbox" data-consent=attribute disabled=!can_edit
                        prop:checked=move || is(&|p| p.consents.contains(&id)) on:change=toggle/>
                    {label}" "<code class="faint">{c.id}</code>
                </label>
            }
        })
        .collect_view();
    // `and` until chosen otherwise: what the data plane does without a strategy.
    let strategy = (provider == "custom").then(|| {
        ["and", "or"].map(|value| {
            let (entry, is) = (entry.clone(), is.clone());
            let text = if value == "and" { "All of them (and)" } else { "Any one of them (or)" };
            view! {
                <label class="check">
                    <input type="radio" name="consent-strategy" value=value disabled=!can_edit
                        prop:checked=move || (value == "or") == is(&|p| p.resolution_strategy.as_deref() == Some("or"))
                        on:change=move |_| entry(&mut |p| p.resolution_strategy = Some(value.into()))/>
                    {text}
                </label>
            }
        })
    });
    let empty = boxes.is_empty();
    let attribute = provider.clone();
    view! {
        <fieldset class="consent-fieldset" data-provider=attribute>
            <legend>{name}</legend>
            {empty.then(|| view! { <p class="muted small">"No category defined for this consent manager yet."</p> })}
            <div class="consent-checks">{boxes}</div>
            {strategy.map(|s| view! {
                <div class="consent-strategy"><span class="muted">"Needs"</span>{s}</div>
            })}
            {move || error_of(Some(&provider)).map(|m| view! { <div class="error">{m}</div> })}
        </fieldset>
    }
}
