//! What a plan would do to real traffic before it is linked or published: the draft (or a version) run over
//! the events the live debugger captured recently from some sources (`POST …/tracking-plans/{tp}/impact`),
//! per event with how many would violate it and how.

use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

use super::preview::{against, type_badge, use_hydrated, VersionSelect};
use crate::api::sources::Source;
use crate::api::tracking_plans::{EventImpact, Impact, ImpactRequest, TrackingPlan};
use crate::api::{use_api, ApiError};
use crate::components::chart::{percent, thousands};
use crate::components::Loading;

/// `violating` of `checked` as a share (0 when nothing was checked).
fn rate(violating: u64, checked: u64) -> f64 {
    if checked == 0 {
        0.0
    } else {
        violating as f64 / checked as f64
    }
}

fn count(n: u64) -> String {
    thousands(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Choose sources (those linked to the plan at first), run: how many of their recently captured events the
/// draft or a version would flag, per event. Its data is read in the browser, once the page is hydrated.
#[component]
pub fn ImpactPreview(ws: String, plan_id: String, latest_version: Option<i64>) -> impl IntoView {
    let hydrated = use_hydrated();
    view! {
        <div class="card" data-testid="impact-preview">
            <div class="card-header">
                <h2>"Impact on recent events"</h2>
                <span class="hint">"Runs the plan over events the live debugger captured recently; nothing is dropped or stored."</span>
            </div>
            {move || {
                if !hydrated.get() {
                    return Either::Right(view! { <Loading/> });
                }
                Either::Left(view! { <ImpactLoader ws=ws.clone() plan_id=plan_id.clone() latest_version=latest_version/> })
            }}
        </div>
    }
}

/// The workspace's sources and those linked to the plan, then the form.
#[component]
fn ImpactLoader(ws: String, plan_id: String, latest_version: Option<i64>) -> impl IntoView {
    let api = use_api();
    let base = format!("/api/v1/workspaces/{ws}");
    let data = LocalResource::new({
        let (base, plan_id) = (base.clone(), plan_id.clone());
        move || {
            let sources = api.get::<Vec<Source>>(format!("{base}/sources"));
            let plan = api.get::<TrackingPlan>(format!("{base}/tracking-plans/{plan_id}"));
            async move {
                let sources = sources.await?;
                let linked: Vec<String> =
                    plan.await?.links.into_iter().map(|l| l.source_id).collect();
                Ok::<_, ApiError>((sources, linked))
            }
        }
    });
    let path = format!("{base}/tracking-plans/{plan_id}/impact");
    view! {
        <Suspense fallback=Loading>
            {move || {
                let (ws, path) = (ws.clone(), path.clone());
                Suspend::new(async move {
                    match data.await {
                        Ok((sources, linked)) => Either::Left(view! {
                            <ImpactForm ws=ws path=path sources=sources linked=linked latest_version=latest_version/>
                        }),
                        Err(e) => Either::Right(view! { <div class="card-body"><div class="alert error" role="alert">{e.message}</div></div> }),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn ImpactForm(
    ws: String,
    path: String,
    sources: Vec<Source>,
    linked: Vec<String>,
    latest_version: Option<i64>,
) -> impl IntoView {
    let api = use_api();
    let none_linked = linked.is_empty();
    let chosen = RwSignal::new(linked);
    let version = RwSignal::new(None::<i64>);
    let run = Action::new(move |request: &ImpactRequest| {
        let (asked, call) = (
            request.version,
            api.post::<_, Impact>(path.clone(), request),
        );
        async move { call.await.map(|impact| (asked, impact)) }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        run.dispatch(ImpactRequest {
            source_ids: chosen.get_untracked(),
            version: version.get_untracked(),
        });
    };
    let names: Vec<(String, String)> = sources
        .iter()
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    let names = StoredValue::new(names);
    let toggle = move |id: String, on: bool| {
        chosen.update(|ids| {
            ids.retain(|i| *i != id);
            if on {
                ids.push(id);
            }
        })
    };
    view! {
        <form class="card-body stack" on:submit=submit>
            {if sources.is_empty() {
                Either::Left(view! { <p class="muted">"This workspace has no sources yet."</p> })
            } else {
                Either::Right(view! {
                    <fieldset class="source-choice">
                        <legend>"Sources"</legend>
                        {none_linked.then(|| view! {
                            <p class="muted small">"No source is linked to this plan yet: with none chosen, the events of every source are checked."</p>
                        })}
                        <div class="checks">
                            {sources.into_iter().map(|source| {
                                let id = source.id.clone();
                                let checked = {
                                    let id = id.clone();
                                    move || chosen.with(|ids| ids.contains(&id))
                                };
                                view! {
                                    <label class="check">
                                        <input type="checkbox" data-testid="impact-source" value=id.clone() prop:checked=checked
                                            on:change=move |ev| toggle(id.clone(), event_target_checked(&ev))/>
                                        {source.name}
                                    </label>
                                }
                            }).collect_view()}
                        </div>
                    </fieldset>
                })
            }}
            <div class="row wrap">
                <VersionSelect latest_version=latest_version version=version test_id="impact-version"/>
                <span class="spacer"></span>
                <button type="submit" class="btn primary" data-testid="impact-run" disabled=move || run.pending().get()>
                    {move || if run.pending().get() { "Checking…" } else { "Check recent events" }}
                </button>
            </div>
        </form>
        {move || run.value().get().map(|outcome| match outcome {
            Ok((asked, impact)) => Either::Left(impact_result(&ws, asked, impact, names)),
            Err(e) => Either::Right(view! { <div class="card-body"><div class="alert error" role="alert">{e.message}</div></div> }),
        })}
    }
}

fn impact_result(
    ws: &str,
    asked: Option<i64>,
    impact: Impact,
    names: StoredValue<Vec<(String, String)>>,
) -> impl IntoView {
    let name_of = |id: &str| {
        names.with_value(|names| {
            names
                .iter()
                .find(|(i, _)| i == id)
                .map_or_else(|| id.to_owned(), |(_, name)| name.clone())
        })
    };
    let which = impact
        .source_ids
        .iter()
        .map(|id| name_of(id))
        .collect::<Vec<_>>()
        .join(", ");
    if impact.checked == 0 {
        // Where to go to capture: the live tab of each source checked, or the workspace's live events.
        let live: Vec<(String, String)> = if impact.source_ids.is_empty() {
            vec![(format!("/w/{ws}/live"), "Live events".to_owned())]
        } else {
            impact
                .source_ids
                .iter()
                .map(|id| (format!("/w/{ws}/sources/{id}/live"), name_of(id)))
                .collect()
        };
        return EitherOf3::A(view! {
            <div class="empty compact impact-empty" data-testid="impact-empty">
                <h3>"No recent events to check"</h3>
                <p>"Impact uses the events the live debugger captured recently from these sources. Open the live debugger on a source while it receives events (the data plane sends samples only while somebody watches), then check again."</p>
                <p class="row wrap centered">
                    {live.into_iter().map(|(href, label)| view! { <a class="btn small" href=href>{format!("Open live events: {label}")}</a> }).collect_view()}
                </p>
            </div>
        });
    }
    let stat = |label: &'static str, value: String, test_id: &'static str| {
        view! { <div class="stat"><span class="stat-label">{label}</span><span class="stat-value" data-testid=test_id>{value}</span></div> }
    };
    let share = rate(impact.violating, impact.checked);
    let read = format!(
        "Recent events of {} against {}",
        if which.is_empty() {
            "every source".to_owned()
        } else {
            which
        },
        against(asked)
    );
    let totals = view! {
        <div class="card-body totals" data-testid="impact-totals">
            {stat("Checked", count(impact.checked), "impact-checked")}
            {stat("Would violate", count(impact.violating), "impact-violating")}
            {stat("Share", percent(share), "impact-share")}
            <span class="spacer"></span>
            <span class="muted small">{read}</span>
        </div>
    };
    if impact.events.is_empty() {
        return EitherOf3::B(totals);
    }
    EitherOf3::C(view! {
        {totals}
        <table class="list impact" data-testid="impact-events">
            <thead><tr>
                <th>"Type"</th><th>"Event"</th><th class="num">"Checked"</th><th class="num">"Violating"</th>
                <th class="num">"%"</th><th>"Violations"</th>
            </tr></thead>
            <tbody>{impact.events.into_iter().map(event_row).collect_view()}</tbody>
        </table>
    })
}

fn event_row(event: EventImpact) -> impl IntoView {
    let share = rate(event.violating, event.checked);
    let name = if event.name.is_empty() {
        Either::Left(view! { <span class="faint">"(no name)"</span> })
    } else {
        Either::Right(event.name.clone())
    };
    let example = event.example;
    view! {
        <tr data-testid="impact-event-row">
            <td><span class="badge">{event.event_type}</span></td>
            <td>{name}</td>
            <td class="num">{count(event.checked)}</td>
            <td class="num" class:bad={event.violating > 0}>{count(event.violating)}</td>
            <td class="num" class:bad={event.violating > 0}>{percent(share)}</td>
            <td><div class="tallies">
                {event.violations.into_iter().map(|tally| view! {
                    <span class="tally">
                        {type_badge(tally.violation_type)}
                        {tally.property.map(|p| view! { <code>{p}</code> })}
                        <span class="tally-count">{format!("× {}", count(tally.count))}</span>
                    </span>
                }).collect_view()}
                {(!example.is_empty()).then(|| view! {
                    <details class="example">
                        <summary>"Example"</summary>
                        <ul>{example.into_iter().map(|v| view! { <li>{type_badge(v.violation_type)}" "{v.message}</li> }).collect_view()}</ul>
                    </details>
                })}
            </div></td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_never_divide_by_zero() {
        assert_eq!(rate(0, 0), 0.0);
        assert_eq!(percent(rate(1, 8)), "12.5%");
        assert_eq!(count(1_234), "1,234");
        assert_eq!(count(u64::MAX), thousands(i64::MAX));
    }
}
