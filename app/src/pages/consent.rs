//! `/w/:ws/consent`: the workspace's consent managers and their categories (purposes), and a simulator of
//! what an event carrying given consents reaches, per source and destination. Cloud-mode destinations are
//! decided by the data plane, which only looks at denied ids; device-mode ones by the JavaScript SDK in the
//! browser, which needs the ids allowed (`../shared/reference/rudderstack-protocol.md` §4): the simulator
//! shows both side by side. Which consents a destination needs is set on its page (`destination_consent`).
//!
//! A lazy route: its code is a wasm chunk of its own, not part of the first load.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use super::destination_consent::{dotted, message_for, provider_name};
use crate::api::consent::{
    ConsentCategory, ConsentProvider, ConsentSettings, ConsentSimulation, DestinationOutcome,
    SimulationResult, SourceOutcome, PROVIDERS,
};
use crate::api::sources::Source;
use crate::api::workspaces::Role;
use crate::api::{use_api, ApiError};
use crate::components::layout::{error_view, PageHeader};
use crate::components::{report, Loading};
use crate::session::use_workspace;

/// What a consent manager's ids are, and an example id and label for empty rows.
fn about(provider: &str) -> (&'static str, &'static str, &'static str) {
    match provider {
        "oneTrust" => (
            "Cookie category ids from your OneTrust cookie list, such as C0002 (performance) or C0004 (targeting).",
            "C0002",
            "Performance cookies",
        ),
        "ketch" => (
            "Purpose codes of your Ketch property, such as analytics or behavioral_advertising.",
            "analytics",
            "Analytics",
        ),
        "iubenda" => (
            "iubenda purpose ids: 1 necessary, 2 basic interactions, 3 experience, 4 measurement, 5 marketing.",
            "4",
            "Measurement",
        ),
        _ => (
            "Any ids your own consent banner (CMP) reports to the SDK as allowed or denied consent ids.",
            "analytics",
            "Analytics",
        ),
    }
}

/// The route of the consent page, loaded lazily.
pub struct ConsentRoute;

#[lazy_route]
impl LazyRoute for ConsentRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <ConsentPage/> }.into_any()
    }
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct ConsentData {
    settings: ConsentSettings,
    sources: Vec<Source>,
}

#[component]
fn ConsentPage() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let data = Resource::new(|| (), {
        let ws = ws.clone();
        move |_| {
            let (api, ws) = (api.clone(), ws.clone());
            async move {
                Ok::<_, ApiError>(ConsentData {
                    settings: api.get(ws.api("/consent")).await?,
                    sources: api.get(ws.api("/sources")).await?,
                })
            }
        }
    });
    view! {
        <Title text="Consent"/>
        <PageHeader title="Consent" subtitle="The consent managers of your sites and apps, and what an event reaches with the consents it carries."/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => {
                        // The simulator works on what is stored: it follows saves, not typing.
                        let saved = RwSignal::new(data.settings.clone());
                        view! {
                            <div class="stack">
                                <SettingsForm settings=data.settings saved=saved/>
                                <Simulator saved=saved sources=data.sources/>
                            </div>
                        }.into_any()
                    }
                    Err(e) => error_view(e),
                }
            })}
        </Suspense>
    }
}

/// Whether the form shows an error naming `field` beside an input of `settings` (else it goes above).
fn placed(field: &str, settings: &ConsentSettings) -> bool {
    let field = dotted(field);
    let parts: Vec<&str> = field.split('.').collect();
    let index = |k: usize| parts.get(k).and_then(|p| p.parse::<usize>().ok());
    let Some(provider) = index(1).and_then(|i| settings.providers.get(i)) else {
        return false;
    };
    match parts[..] {
        ["providers", _] | ["providers", _, "provider" | "categories"] => true,
        ["providers", _, "categories", _] | ["providers", _, "categories", _, "id" | "label"] => {
            index(3).is_some_and(|j| j < provider.categories.len())
        }
        _ => false,
    }
}

/// The error naming `field` (dotted), as a sentence beside it.
#[component]
fn Beside(error: Signal<Option<ApiError>>, #[prop(into)] field: String) -> impl IntoView {
    move || {
        error
            .with(|e| e.as_ref().and_then(|e| message_for(e, &field)))
            .map(|m| view! { <div class="error">{m}</div> })
    }
}

#[component]
fn SettingsForm(settings: ConsentSettings, saved: RwSignal<ConsentSettings>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let can_edit = ws.can(Role::Editor);
    let draft = RwSignal::new(settings);
    let error = RwSignal::new(None::<ApiError>);
    let save = Action::new({
        let path = ws.api("/consent");
        move |body: &ConsentSettings| {
            let (api, body, path) = (api.clone(), body.clone(), path.clone());
            async move { api.put::<_, ConsentSettings>(path, &body).await }
        }
    });
    report(save, error, "Consent settings saved.", move |stored| {
        draft.set(stored.clone());
        saved.set(stored);
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(draft.get_untracked());
    };
    let error_signal: Signal<Option<ApiError>> = error.into();
    // A row added or removed moves the indexes an error names: it no longer says where it was.
    let shape = Memo::new(move |_| {
        draft.with(|s| {
            s.providers
                .iter()
                .map(|p| p.categories.len())
                .collect::<Vec<_>>()
        })
    });
    Effect::new(move |ran: Option<()>| {
        shape.track();
        if ran.is_some() {
            error.set(None);
        }
    });
    let count = Memo::new(move |_| draft.with(|s| s.providers.len()));
    let blocks = move || {
        (0..count.get())
            .map(|i| provider_block(i, draft, error_signal, can_edit))
            .collect_view()
    };
    let missing = Memo::new(move |_| {
        draft.with(|s| {
            PROVIDERS
                .into_iter()
                .filter(|p| !s.providers.iter().any(|x| x.provider == *p))
                .collect::<Vec<_>>()
        })
    });
    let add_provider = move |provider: &'static str| {
        draft.update(|s| {
            s.providers.push(ConsentProvider {
                provider: provider.into(),
                categories: vec![ConsentCategory {
                    id: String::new(),
                    label: String::new(),
                }],
            })
        })
    };
    let adders = move || {
        let missing = missing.get();
        (can_edit && !missing.is_empty()).then(|| view! {
            <div class="consent-add">
                <h3>"Add a consent manager"</h3>
                {missing.into_iter().map(|p| view! {
                    <div class="consent-add-item">
                        <div>
                            <div class="consent-add-name">{provider_name(p).to_owned()}</div>
                            <div class="muted small">{about(p).0}</div>
                        </div>
                        <button type="button" class="btn small" data-add-provider=p on:click=move |_| add_provider(p)>"Add"</button>
                    </div>
                }).collect_view()}
            </div>
        })
    };
    let unplaced = move || {
        error.get().filter(|e| {
            e.field
                .as_deref()
                .is_none_or(|f| !draft.with(|s| placed(f, s)))
        })
    };
    view! {
        <form class="card" on:submit=submit data-testid="consent-settings">
            <div class="card-header">
                <h2>"Consent settings"</h2>
                <span class="hint">{if can_edit {
                    "The consent managers your SDKs report consent from, and their categories"
                } else {
                    "Read-only: editors change these"
                }}</span>
            </div>
            <div class="card-body form">
                {move || unplaced().map(|e| view! { <div class="alert error" role="alert">{e.message}</div> })}
                {move || (count.get() == 0).then(|| view! {
                    <p class="muted" data-testid="no-consent-manager">"No consent manager yet: events reach every destination whatever their consents. Add the one your sites use, with the categories it reports."</p>
                })}
                {blocks}
                {adders}
            </div>
            {can_edit.then(|| view! {
                <div class="card-footer">
                    <button type="submit" class="btn primary" data-testid="save-consent-settings" disabled=move || save.pending().get()>"Save"</button>
                </div>
            })}
        </form>
    }
}

/// The `i`-th consent manager of the draft, with its categories as editable rows.
fn provider_block(
    i: usize,
    draft: RwSignal<ConsentSettings>,
    error: Signal<Option<ApiError>>,
    can_edit: bool,
) -> impl IntoView {
    let provider = draft.with_untracked(|s| {
        s.providers
            .get(i)
            .map(|p| p.provider.clone())
            .unwrap_or_default()
    });
    let (explanation, id_example, label_example) = about(&provider);
    let rows =
        Memo::new(move |_| draft.with(|s| s.providers.get(i).map_or(0, |p| p.categories.len())));
    let base = format!("providers.{i}");
    let category_rows = {
        let base = base.clone();
        move || {
            (0..rows.get())
                .map(|j| {
                    category_row(
                        &base,
                        i,
                        j,
                        draft,
                        error,
                        can_edit,
                        id_example,
                        label_example,
                    )
                })
                .collect_view()
        }
    };
    let remove = move |_| {
        draft.update(|s| {
            if i < s.providers.len() {
                s.providers.remove(i);
            }
        })
    };
    let add = move |_| {
        draft.update(|s| {
            if let Some(p) = s.providers.get_mut(i) {
                p.categories.push(ConsentCategory {
                    id: String::new(),
                    label: String::new(),
                });
            }
        })
    };
    let name = provider_name(&provider).to_owned();
    view! {
        <fieldset class="consent-provider" data-provider=provider>
            <legend>{name}</legend>
            <div class="consent-provider-head">
                <p class="muted small">{explanation}</p>
                {can_edit.then(|| view! {
                    <button type="button" class="btn small danger" data-testid="remove-provider" on:click=remove>"Remove"</button>
                })}
            </div>
            <Beside error=error field=base.clone()/>
            <Beside error=error field=format!("{base}.provider")/>
            <div class="consent-rows">
                {move || (rows.get() > 0).then(|| view! {
                    <div class="consent-row consent-row-head">
                        <span>"Id"</span><span>"Label"</span><span></span>
                    </div>
                })}
                {category_rows}
            </div>
            <Beside error=error field=format!("{base}.categories")/>
            {can_edit.then(|| view! {
                <div><button type="button" class="btn small" data-testid="add-category" on:click=add>"+ Add category"</button></div>
            })}
        </fieldset>
    }
}

#[allow(clippy::too_many_arguments)]
fn category_row(
    base: &str,
    i: usize,
    j: usize,
    draft: RwSignal<ConsentSettings>,
    error: Signal<Option<ApiError>>,
    can_edit: bool,
    id_example: &'static str,
    label_example: &'static str,
) -> impl IntoView {
    let path = format!("{base}.categories.{j}");
    let read = move |label: bool| {
        draft.with(|s| {
            s.providers
                .get(i)
                .and_then(|p| p.categories.get(j))
                .map(|c| if label { c.label.clone() } else { c.id.clone() })
                .unwrap_or_default()
        })
    };
    let write = move |label: bool, value: String| {
        draft.update(|s| {
            if let Some(c) = s.providers.get_mut(i).and_then(|p| p.categories.get_mut(j)) {
                if label {
                    c.label = value;
                } else {
                    c.id = value;
                }
            }
        })
    };
    let input = {
        let path = path.clone();
        move |label: bool| {
            let field = format!("{path}.{}", if label { "label" } else { "id" });
            let invalid = {
                let field = field.clone();
                move || error.with(|e| e.as_ref().and_then(|e| message_for(e, &field)).is_some())
            };
            view! {
                <div class="field" class:invalid=invalid>
                    <input type="text" name=field.clone()
                        aria-label=if label { "Label" } else { "Id" }
                        placeholder=if label { label_example } else { id_example }
                        data-testid=if label { "category-label" } else { "category-id" }
                        disabled=!can_edit
                        prop:value=move || read(label)
                        on:input=move |ev| write(label, event_target_value(&ev))/>
                    <Beside error=error field=field/>
                </div>
            }
        }
    };
    let remove = move |_| {
        draft.update(|s| {
            if let Some(p) = s.providers.get_mut(i) {
                if j < p.categories.len() {
                    p.categories.remove(j);
                }
            }
        })
    };
    view! {
        <div class="consent-row" data-testid="category-row">
            {input(false)}
            {input(true)}
            <span>{can_edit.then(|| view! {
                <button type="button" class="btn small ghost" title="Remove this category" on:click=remove>"Remove"</button>
            })}</span>
            <div class="consent-row-error"><Beside error=error field=path.clone()/></div>
        </div>
    }
}

/// What the simulator says about one category: allowed, denied, or neither (not reported).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Choice {
    Allowed,
    Denied,
    Unknown,
}

impl Choice {
    const ALL: [Choice; 3] = [Choice::Allowed, Choice::Denied, Choice::Unknown];

    fn label(self) -> &'static str {
        match self {
            Choice::Allowed => "Allowed",
            Choice::Denied => "Denied",
            Choice::Unknown => "Unknown",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Choice::Allowed => "allowed",
            Choice::Denied => "denied",
            Choice::Unknown => "unknown",
        }
    }
}

#[component]
fn Simulator(saved: RwSignal<ConsentSettings>, sources: Vec<Source>) -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let provider = RwSignal::new(
        saved
            .with_untracked(|s| s.providers.first().map(|p| p.provider.clone()))
            .unwrap_or_default(),
    );
    // A manager removed and saved is no longer offered: fall back to the first one.
    Effect::new(move |_| {
        let first = saved.with(|s| {
            (!s.providers
                .iter()
                .any(|p| p.provider == provider.get_untracked()))
            .then(|| {
                s.providers
                    .first()
                    .map(|p| p.provider.clone())
                    .unwrap_or_default()
            })
        });
        if let Some(first) = first {
            provider.set(first);
        }
    });
    let categories = Memo::new(move |_| {
        let chosen = provider.get();
        saved.with(|s| {
            s.providers
                .iter()
                .find(|p| p.provider == chosen)
                .map(|p| p.categories.clone())
                .unwrap_or_default()
        })
    });
    // Each category's choice by id; none is unknown. Changing the manager starts over.
    let choices = RwSignal::new(Vec::<(String, Choice)>::new());
    Effect::new(move |_| {
        provider.track();
        choices.set(Vec::new());
    });
    let choice_of = move |id: &str| {
        choices.with(|c| {
            c.iter()
                .find(|(x, _)| x == id)
                .map_or(Choice::Unknown, |(_, c)| *c)
        })
    };
    let set_choice = move |id: String, choice: Choice| {
        choices.update(|c| {
            c.retain(|(x, _)| *x != id);
            if choice != Choice::Unknown {
                c.push((id, choice));
            }
        })
    };
    let set_all = move |choice: Choice| {
        let ids = categories.get_untracked();
        choices.update(|c| {
            c.clear();
            if choice != Choice::Unknown {
                c.extend(ids.into_iter().map(|cat| (cat.id, choice)));
            }
        })
    };
    let source = RwSignal::new(String::new());
    let request = move || {
        let pick = |wanted: Choice| {
            categories.with(|cats| {
                cats.iter()
                    .filter(|c| choice_of(&c.id) == wanted)
                    .map(|c| c.id.clone())
                    .collect::<Vec<_>>()
            })
        };
        ConsentSimulation {
            provider: provider.get(),
            allowed_consent_ids: pick(Choice::Allowed),
            denied_consent_ids: pick(Choice::Denied),
            source_ids: source.with(|s| {
                if s.is_empty() {
                    Vec::new()
                } else {
                    vec![s.clone()]
                }
            }),
        }
    };
    let error = RwSignal::new(None::<ApiError>);
    let result = RwSignal::new(None::<SimulationResult>);
    let run = Action::new({
        let path = ws.api("/consent/simulate");
        move |body: &ConsentSimulation| {
            let (api, body, path) = (api.clone(), body.clone(), path.clone());
            async move { api.post::<_, SimulationResult>(path, &body).await }
        }
    });
    report(run, error, "", move |r| result.set(Some(r)));
    let as_sent = move || {
        let r = request();
        let ids = |ids: &[String]| serde_json::to_string(ids).unwrap_or_default();
        format!(
            "context.consentManagement = {{\"provider\": {:?}, \"allowedConsentIds\": {}, \"deniedConsentIds\": {}}}",
            r.provider,
            ids(&r.allowed_consent_ids),
            ids(&r.denied_consent_ids)
        )
    };
    let source_options = move || {
        sources
            .iter()
            .map(|s| view! { <option value=s.id.clone()>{s.name.clone()}</option> })
            .collect_view()
    };
    let no_provider = Memo::new(move |_| saved.with(|s| s.providers.is_empty()));
    let provider_options = move || {
        saved.with(|s| {
            s.providers
                .iter()
                .map(|p| {
                    let value = p.provider.clone();
                    let selected = value == provider.get_untracked();
                    view! { <option value=value selected=selected>{provider_name(&p.provider).to_owned()}</option> }
                })
                .collect_view()
        })
    };
    let category_choices = move || {
        let cats = categories.get();
        if cats.is_empty() {
            return view! { <p class="muted">"This consent manager has no category yet: add some above and save."</p> }.into_any();
        }
        cats.into_iter()
            .map(|c| {
                let buttons = Choice::ALL
                    .into_iter()
                    .map(|choice| {
                        let (id, set_id) = (c.id.clone(), c.id.clone());
                        view! {
                            <button type="button" data-choice=choice.key()
                                aria-pressed=move || (choice_of(&id) == choice).to_string()
                                on:click=move |_| set_choice(set_id.clone(), choice)>
                                {choice.label()}
                            </button>
                        }
                    })
                    .collect_view();
                let label = if c.label.is_empty() {
                    c.id.clone()
                } else {
                    c.label.clone()
                };
                let attribute = c.id.clone();
                view! {
                    <div class="consent-choice" data-consent=attribute>
                        <span>{label}" "<code class="faint">{c.id}</code></span>
                        <div class="segmented" role="group">{buttons}</div>
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    let run_it = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        run.dispatch(request());
    };
    view! {
        <form class="card" on:submit=run_it data-testid="consent-simulator">
            <div class="card-header">
                <h2>"Consent simulator"</h2>
                <span class="hint">"What an event with these consents reaches (with the saved settings)"</span>
            </div>
            <div class="card-body form">
                <div class="consent-rules">
                    <div>
                        <span class="badge">"Cloud mode"</span>
                        <p class="small">"The data plane decides, and only denied ids count: it drops the event for a destination when a consent the destination needs is denied (with “any one of them”: when all of them are). A consent the event does not mention never blocks it."</p>
                    </div>
                    <div>
                        <span class="badge">"Device mode"</span>
                        <p class="small">"The SDK in the browser decides, and allowed ids count: it sends to the destination only when the consents the destination needs are allowed (with “any one of them”: one is enough). A consent the event does not mention counts as not given."</p>
                    </div>
                </div>
                {move || if no_provider.get() {
                    view! { <p class="muted">"Add a consent manager above and save it to simulate."</p> }.into_any()
                } else {
                    view! {
                        <div class="form-row">
                            <div class="field">
                                <label for="sim-provider">"Consent manager"</label>
                                <select id="sim-provider" on:change=move |ev| provider.set(event_target_value(&ev))>{provider_options}</select>
                            </div>
                            <div class="field">
                                <label for="sim-source">"Sources"</label>
                                <select id="sim-source" on:change=move |ev| source.set(event_target_value(&ev))>
                                    <option value="">"All sources"</option>
                                    {source_options()}
                                </select>
                            </div>
                        </div>
                        <div class="field">
                            <div class="row">
                                <span class="label">"The event's consents"</span>
                                <span class="spacer"></span>
                                {Choice::ALL.map(|c| view! {
                                    <button type="button" class="btn small ghost" on:click=move |_| set_all(c)>{format!("All {}", c.key())}</button>
                                })}
                            </div>
                            <div class="consent-choices">{category_choices}</div>
                        </div>
                        <pre class="snippet" data-testid="sim-context">{as_sent}</pre>
                    }.into_any()
                }}
                {move || error.get().map(|e| view! { <div class="alert error" role="alert">{e.message}</div> })}
            </div>
            <div class="card-footer">
                <button type="submit" class="btn primary" data-testid="run-simulation" disabled=move || no_provider.get() || run.pending().get()>"Simulate"</button>
            </div>
        </form>
        {move || result.get().map(|r| view! { <SimulationView result=r/> })}
    }
}

#[component]
fn SimulationView(result: SimulationResult) -> impl IntoView {
    if result.sources.is_empty() {
        return view! {
            <div class="card" data-testid="sim-results"><div class="empty compact">
                <h2>"No source"</h2>
                <p>"Add a source and connect destinations to it to see where its events go."</p>
            </div></div>
        }
        .into_any();
    }
    view! {
        <div class="stack" data-testid="sim-results">
            {result.sources.into_iter().map(source_outcome).collect_view()}
        </div>
    }
    .into_any()
}

fn source_outcome(source: SourceOutcome) -> impl IntoView {
    let ws = use_workspace();
    let receiving = source.destinations.iter().filter(|d| d.receives).count();
    let total = source.destinations.len();
    let body = if source.destinations.is_empty() {
        view! { <div class="card-body"><p class="muted">"No destination is connected to this source."</p></div> }.into_any()
    } else {
        view! {
            <table class="list">
                <thead><tr>
                    <th>"Destination"</th><th>"Mode"</th><th>"Decided by"</th><th>"Event"</th><th>"Why"</th>
                </tr></thead>
                <tbody>
                    {source.destinations.into_iter().map(|d| destination_outcome(&ws, d)).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <div class="card" data-testid="sim-source" data-source=source.source_id.clone()>
            <div class="card-header">
                <div class="row">
                    <h3><a href=ws.href(&format!("/sources/{}", source.source_id))>{source.source_name}</a></h3>
                    <span class="badge">{source.source_type}</span>
                </div>
                <span class="hint">{format!("{receiving} of {total} destinations receive it")}</span>
            </div>
            {body}
        </div>
    }
}

fn destination_outcome(ws: &crate::session::WorkspaceCtx, d: DestinationOutcome) -> impl IntoView {
    let decided_by = match d.connection_mode.as_str() {
        "cloud" => "Data plane: denied ids count",
        "device" => "Browser SDK: allowed ids count",
        "hybrid" => "Browser SDK and data plane",
        _ => "",
    };
    let mut reason = d.reason;
    if let Some(first) = reason.get(..1) {
        reason = first.to_uppercase() + &reason[1..];
    }
    let (class, verdict) = if d.receives {
        ("badge on", "Receives")
    } else {
        ("badge fail", "Excluded")
    };
    view! {
        <tr data-testid="sim-destination" data-destination=d.destination_id.clone() data-receives=d.receives.to_string()>
            <td class="nowrap"><a href=ws.href(&format!("/destinations/{}/consent", d.destination_id)) title="Its consents">{d.destination_name}</a></td>
            <td><span class=format!("badge mode-{}", d.connection_mode)>{d.connection_mode.clone()}</span></td>
            <td class="muted small">{decided_by}</td>
            <td><span class=class data-testid="sim-verdict">{verdict}</span></td>
            <td class="small" data-testid="sim-reason">{reason}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::super::destination_consent::provider_index;
    use super::*;

    #[test]
    fn errors_naming_a_shown_input_go_beside_it() {
        let settings = ConsentSettings {
            providers: vec![
                ConsentProvider {
                    provider: "oneTrust".into(),
                    categories: vec![],
                },
                ConsentProvider {
                    provider: "custom".into(),
                    categories: vec![ConsentCategory {
                        id: "a".into(),
                        label: String::new(),
                    }],
                },
            ],
        };
        for shown in [
            "providers.0",
            "providers.1.provider",
            "providers.0.categories",
            "providers.1.categories.0",
            "providers.1.categories.0.id",
            "providers[1].categories[0].label",
        ] {
            assert!(placed(shown, &settings), "{shown}");
        }
        for above in [
            "providers",
            "providers.2",
            "providers.0.categories.0.id",
            "providers.1.categories.1",
            "providers.1.categories.0.other",
            "providerz.0",
        ] {
            assert!(!placed(above, &settings), "{above}");
        }
        assert_eq!(provider_index("providers.12.consents.0"), Some(12));
        assert_eq!(provider_index("providers[3].consents[0]"), Some(3));
        assert_eq!(provider_index("providers"), None);
        let error = ApiError {
            status: 422,
            code: "validation_failed".into(),
            message: "providers.1.categories.0.id: a is listed twice for custom".into(),
            field: Some("providers.1.categories.0.id".into()),
            current_revision: None,
        };
        assert_eq!(
            message_for(&error, "providers.1.categories.0.id").as_deref(),
            Some("a is listed twice for custom."),
            "an id keeps its case"
        );
        assert_eq!(message_for(&error, "providers.1.categories.0"), None);
        let empty = ApiError {
            message: "providers.1.categories.0.id must not be empty".into(),
            ..error.clone()
        };
        assert_eq!(
            message_for(&empty, "providers.1.categories.0.id").as_deref(),
            Some("Must not be empty.")
        );
        let removal = ApiError {
            message: "marketing cannot be removed from custom".into(),
            field: Some("providers[1].categories".into()),
            ..error
        };
        assert_eq!(
            message_for(&removal, "providers.1.categories").as_deref(),
            Some("marketing cannot be removed from custom.")
        );
    }
}
