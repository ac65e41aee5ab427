//! A plan's versions: the list, one version read-only, and what changed between two versions or a version
//! and the draft (`GET …/diff?from=…&to=…`), per event and per rule, before → after.

use leptos::either::Either;
use leptos::prelude::*;
use serde_json::Value;

use super::event_editor::{rule_value, EventCard, EventSlot};
use super::preview::use_hydrated;
use crate::api::tracking_plans::{
    DiffChange, EventDiff, PlanDiff, RuleChange, TrackingPlanVersion, VersionSummary,
};
use crate::api::use_api;
use crate::components::chart::minute_label;
use crate::components::Loading;

/// Where a rule is, for people, from its JSON pointer in an event's rules: the property (`address.city`,
/// `products[].price`), or the fields themselves (`properties`, `traits`), or `message` for rules about the
/// rest of the message; and the rule itself (`type`, `enum[2]`; empty for the whole property).
pub fn describe_path(pointer: &str) -> (String, String) {
    if pointer == "/description" {
        return ("event".into(), "description".into());
    }
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let keyword = |rest: &[String]| {
        let mut out = String::new();
        for segment in rest {
            if segment.parse::<usize>().is_ok() && !out.is_empty() {
                out.push_str(&format!("[{segment}]"));
            } else {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(segment);
            }
        }
        out
    };
    match segments.as_slice() {
        [first, container, rest @ ..]
            if first == "properties" && (container == "properties" || container == "traits") =>
        {
            let mut names: Vec<String> = Vec::new();
            let mut rest = rest;
            loop {
                match rest {
                    [p, name, tail @ ..] if p == "properties" => {
                        names.push(name.clone());
                        rest = tail;
                    }
                    [items, tail @ ..] if items == "items" => {
                        match names.last_mut() {
                            Some(last) => last.push_str("[]"),
                            None => names.push(format!("{container}[]")),
                        }
                        rest = tail;
                    }
                    _ => break,
                }
            }
            let location = if names.is_empty() {
                container.clone()
            } else {
                names.join(".")
            };
            (location, keyword(rest))
        }
        rest => ("message".into(), keyword(rest)),
    }
}

fn change_badge(change: DiffChange) -> impl IntoView {
    let (class, text) = match change {
        DiffChange::Added => ("badge tp-added", "Added"),
        DiffChange::Removed => ("badge tp-removed", "Removed"),
        DiffChange::Changed => ("badge tp-changed", "Changed"),
    };
    view! { <span class=class>{text}</span> }
}

/// A value before or after, or a dash.
fn value_cell(value: Option<Value>, class: &'static str) -> impl IntoView {
    match value {
        None => Either::Left(view! { <td class="faint">"—"</td> }),
        Some(value) => {
            let compact = rule_value(&value);
            let text = if compact.len() > 60 {
                serde_json::to_string_pretty(&value).unwrap_or(compact)
            } else {
                compact
            };
            Either::Right(view! { <td><pre class=format!("tp-value {class}")>{text}</pre></td> })
        }
    }
}

fn rule_row(change: RuleChange) -> impl IntoView {
    let (location, rule) = describe_path(&change.path);
    let rule = if rule.is_empty() {
        Either::Left(view! { <span class="faint">"the whole property"</span> })
    } else {
        Either::Right(view! { <code>{rule}</code> })
    };
    view! {
        <tr data-testid="diff-rule" title=change.path.clone()>
            <td>{change_badge(change.change)}</td>
            <td><strong>{location}</strong></td>
            <td>{rule}</td>
            {value_cell(change.before, "before")}
            {value_cell(change.after, "after")}
        </tr>
    }
}

fn event_diff(diff: EventDiff) -> impl IntoView {
    let title = if diff.event_type == "track" {
        diff.name.clone()
    } else {
        format!("{} rules", diff.event_type)
    };
    let changes = (!diff.changes.is_empty()).then(|| {
        view! {
            <table class="list tp-diff-rules">
                <thead><tr><th></th><th>"Where"</th><th>"Rule"</th><th>"Before"</th><th>"After"</th></tr></thead>
                <tbody>{diff.changes.into_iter().map(rule_row).collect_view()}</tbody>
            </table>
        }
    });
    view! {
        <div class="tp-diff-event" data-testid="diff-event">
            <div class="tp-diff-head">
                {change_badge(diff.change)}
                <span class="badge tp-type">{diff.event_type.clone()}</span>
                <strong>{title}</strong>
            </div>
            {changes}
        </div>
    }
}

/// `3` → "version 3", `draft` → "the draft".
fn side_label(side: &str) -> String {
    if side == "draft" {
        "the draft".into()
    } else {
        format!("version {side}")
    }
}

/// The diff as read: events added, removed and changed, each rule before → after.
pub fn diff_view(diff: PlanDiff) -> impl IntoView {
    let title = format!(
        "From {} to {}",
        side_label(&diff.from),
        side_label(&diff.to)
    );
    let count = |change: DiffChange| diff.events.iter().filter(|e| e.change == change).count();
    let hint = format!(
        "{} added, {} removed, {} changed",
        count(DiffChange::Added),
        count(DiffChange::Removed),
        count(DiffChange::Changed)
    );
    let body = if diff.events.is_empty() {
        Either::Left(
            view! { <div class="empty compact" data-testid="diff-empty"><p>"No differences: the events and their rules are the same."</p></div> },
        )
    } else {
        Either::Right(
            view! { <div class="tp-diff">{diff.events.into_iter().map(event_diff).collect_view()}</div> },
        )
    };
    view! {
        <div class="card" data-testid="diff">
            <div class="card-header"><h2>{title}</h2><span class="hint">{hint}</span></div>
            {body}
        </div>
    }
}

/// The Versions tab: the list, a version read-only, and the diff of any two (or a version and the draft).
/// Its data is read in the browser once the page is hydrated (see `use_hydrated`).
#[component]
pub fn VersionsTab(
    /// `/api/v1/workspaces/{ws}/tracking-plans/{tp}`
    base: String,
    latest_version: Option<i64>,
    has_unpublished_changes: bool,
    /// Whether the editor has changes that are not saved (not part of the draft yet).
    unsaved: Signal<bool>,
) -> impl IntoView {
    let hydrated = use_hydrated();
    move || {
        if !hydrated.get() {
            return Either::Right(view! { <Loading/> });
        }
        Either::Left(view! {
            <Versions base=base.clone() latest_version=latest_version
                has_unpublished_changes=has_unpublished_changes unsaved=unsaved/>
        })
    }
}

#[component]
fn Versions(
    base: String,
    latest_version: Option<i64>,
    has_unpublished_changes: bool,
    unsaved: Signal<bool>,
) -> impl IntoView {
    let api = use_api();
    let versions = LocalResource::new({
        let (api, path) = (api.clone(), format!("{base}/versions"));
        move || api.get::<Vec<VersionSummary>>(path.clone())
    });
    // The comparison shown: what changed since the last version, or in the last version.
    let initial = match latest_version {
        Some(n) if has_unpublished_changes => Some((n.to_string(), "draft".to_owned())),
        Some(n) if n > 1 => Some(((n - 1).to_string(), n.to_string())),
        Some(n) => Some((n.to_string(), "draft".to_owned())),
        None => None,
    };
    let (from, to) = initial
        .clone()
        .unwrap_or_else(|| ("draft".into(), "draft".into()));
    let from = RwSignal::new(from);
    let to = RwSignal::new(to);
    let compared = RwSignal::new(initial);
    let diff = LocalResource::new({
        let (api, base) = (api.clone(), base.clone());
        move || {
            let pair = compared.get();
            let (api, base) = (api.clone(), base.clone());
            async move {
                match pair {
                    Some((from, to)) => api
                        .get::<PlanDiff>(format!("{base}/diff?from={from}&to={to}"))
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            }
        }
    });
    let viewing = RwSignal::new(None::<i64>);
    let version = LocalResource::new({
        let (api, base) = (api.clone(), base.clone());
        move || {
            let n = viewing.get();
            let (api, base) = (api.clone(), base.clone());
            async move {
                match n {
                    Some(n) => api
                        .get::<TrackingPlanVersion>(format!("{base}/versions/{n}"))
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            }
        }
    });
    let compare = move |a: String, b: String| {
        from.set(a.clone());
        to.set(b.clone());
        compared.set(Some((a, b)));
    };
    let options = move |selected: RwSignal<String>| {
        let mut sides = vec![("draft".to_owned(), "Draft".to_owned())];
        sides.extend(
            (1..=latest_version.unwrap_or(0))
                .rev()
                .map(|n| (n.to_string(), format!("Version {n}"))),
        );
        sides
            .into_iter()
            .map(|(value, label)| {
                let v = value.clone();
                view! { <option value=value selected=move || selected.get() == v>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <div class="stack">
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match versions.await {
                        Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.message}</div> }),
                        Ok(list) if list.is_empty() => Either::Right(Either::Left(view! {
                            <div class="card"><div class="empty compact" data-testid="versions-empty">
                                <h2>"Not published yet"</h2>
                                <p>"Publish the draft to create version 1. Versions never change: sources are linked to one, and you publish a new one to change what they check."</p>
                            </div></div>
                        })),
                        Ok(list) => Either::Right(Either::Right(view! {
                            <div class="card">
                                <div class="card-header"><h2>"Versions"</h2><span class="hint">"Published versions never change."</span></div>
                                <table class="list" data-testid="versions">
                                    <thead><tr><th>"Version"</th><th>"Events"</th><th>"Published"</th><th>"By"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|v| {
                                            let n = v.version;
                                            view! {
                                                <tr class:selected=move || viewing.get() == Some(n) data-testid="version-row">
                                                    <td><strong>{format!("Version {n}")}</strong>{(Some(n) == latest_version).then(|| view! { " "<span class="badge on">"latest"</span> })}</td>
                                                    <td>{v.event_count}</td>
                                                    <td class="nowrap">{minute_label(&v.published_at)}</td>
                                                    <td class="muted">{v.published_by.clone().unwrap_or_else(|| "—".into())}</td>
                                                    <td class="actions">
                                                        <button type="button" class="btn small" data-testid="version-view"
                                                            on:click=move |_| viewing.set(if viewing.get_untracked() == Some(n) { None } else { Some(n) })>
                                                            {move || if viewing.get() == Some(n) { "Hide" } else { "View" }}
                                                        </button>
                                                        {(n > 1).then(|| view! {
                                                            <button type="button" class="btn small" on:click=move |_| compare((n - 1).to_string(), n.to_string())>"What changed"</button>
                                                        })}
                                                        <button type="button" class="btn small" on:click=move |_| compare(n.to_string(), "draft".into())>"Compare with draft"</button>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        })),
                    }
                })}
            </Suspense>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match version.await {
                        Ok(Some(v)) => Some(Either::Left(version_view(v, viewing))),
                        Ok(None) => None,
                        Err(e) => Some(Either::Right(view! { <div class="alert error" role="alert">{e.message}</div> })),
                    }
                })}
            </Transition>
            {latest_version.is_some().then(|| view! {
                <form class="card tp-compare" on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    compared.set(Some((from.get_untracked(), to.get_untracked())));
                }>
                    <div class="card-body form-row">
                        <label class="field"><span class="label">"From"</span>
                            <select data-testid="diff-from" on:change=move |ev| from.set(event_target_value(&ev))>{options(from)}</select>
                        </label>
                        <label class="field"><span class="label">"To"</span>
                            <select data-testid="diff-to" on:change=move |ev| to.set(event_target_value(&ev))>{options(to)}</select>
                        </label>
                        <button type="submit" class="btn primary" data-testid="diff-compare">"Compare"</button>
                        {move || unsaved.get().then(|| view! {
                            <span class="muted small tp-compare-note">"The draft here is what was saved: your unsaved edits are not in it."</span>
                        })}
                    </div>
                </form>
            })}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match diff.await {
                        Ok(Some(diff)) => Some(Either::Left(diff_view(diff))),
                        Ok(None) => None,
                        Err(e) => Some(Either::Right(view! { <div class="alert error" role="alert" data-testid="diff-error">{e.message}</div> })),
                    }
                })}
            </Transition>
        </div>
    }
}

/// A published version, read-only: its events as the editor shows them.
fn version_view(version: TrackingPlanVersion, viewing: RwSignal<Option<i64>>) -> impl IntoView {
    let slots = EventSlot::all(&version.events);
    let by = version
        .published_by
        .map(|email| format!(" by {email}"))
        .unwrap_or_default();
    view! {
        <div class="card tp-version" data-testid="version">
            <div class="card-header">
                <h2>{format!("Version {}", version.version)}</h2>
                <span class="hint">{format!("Published {}{by}. Read-only.", minute_label(&version.published_at))}</span>
                <span class="spacer"></span>
                <button type="button" class="btn small" on:click=move |_| viewing.set(None)>"Close"</button>
            </div>
            <div class="card-body stack">
                {(!version.description.is_empty()).then(|| view! { <p class="muted">{version.description.clone()}</p> })}
                {if slots.is_empty() {
                    Either::Left(view! { <p class="muted">"No events."</p> })
                } else {
                    Either::Right(slots.into_iter().map(|slot| view! { <EventCard event=slot editable=false/> }).collect_view())
                }}
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(pointer: &str) -> (String, String) {
        describe_path(pointer)
    }

    #[test]
    fn rule_paths_read_as_property_and_rule() {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            d("/properties/properties/properties/price/type"),
            pair("price", "type")
        );
        assert_eq!(
            d("/properties/properties/properties/address/properties/city/maxLength"),
            pair("address.city", "maxLength")
        );
        assert_eq!(
            d("/properties/properties/properties/products/items/properties/sku"),
            pair("products[].sku", "")
        );
        assert_eq!(
            d("/properties/properties/properties/tags/items/enum/2"),
            pair("tags[]", "enum[2]")
        );
        assert_eq!(
            d("/properties/properties/required"),
            pair("properties", "required")
        );
        assert_eq!(
            d("/properties/traits/properties/email/format"),
            pair("email", "format")
        );
        assert_eq!(
            d("/properties/properties/properties/items/properties/properties/type"),
            pair("items.properties", "type")
        );
        assert_eq!(
            d("/properties/properties/properties/a~1b/type"),
            pair("a/b", "type")
        );
        assert_eq!(d("/required/0"), pair("message", "required[0]"));
        assert_eq!(
            d("/properties/context/required"),
            pair("message", "properties.context.required")
        );
        assert_eq!(d("/description"), pair("event", "description"));
    }

    #[test]
    fn sides_read_as_words() {
        assert_eq!(side_label("draft"), "the draft");
        assert_eq!(side_label("2"), "version 2");
    }
}
