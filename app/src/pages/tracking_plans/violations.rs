//! What the data planes found validating real traffic against a plan (`GET …/tracking-plans/{tp}/violations`,
//! from rudder-server's reports with `reportedBy: tracking_plan_validator`): events with violations over time,
//! one layer per source and plan version, those sources and versions with their totals, and the violations
//! by type. The chart is uPlot (`components::chart`), loaded when it first draws.

use leptos::either::Either;
use leptos::prelude::*;

use super::preview::{type_badge, use_hydrated};
use crate::api::sources::Source;
use crate::api::tracking_plans::{ViolationCounts as Counts, ViolationSeries};
use crate::api::use_api;
use crate::components::chart::{
    minute_label, percent, rfc3339, thousands, ChartData, Layer, StackedBars,
};
use crate::components::Loading;
use crate::pages::live::{epoch_ms, now_ms};
use crate::session::encode;

/// One colour per source and version, in the order the series come.
const COLORS: [&str; 8] = [
    "#fa5252", "#fd7e14", "#be4bdb", "#4c6ef5", "#15aabf", "#82c91e", "#fab005", "#e64980",
];

const HOUR_MS: f64 = 3_600_000.0;

/// The ranges offered, up to now, hourly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    Day,
    Week,
}

impl Span {
    fn label(self) -> &'static str {
        match self {
            Span::Day => "24 h",
            Span::Week => "7 d",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Span::Day => "24h",
            Span::Week => "7d",
        }
    }

    fn millis(self) -> f64 {
        match self {
            Span::Day => 24.0 * HOUR_MS,
            Span::Week => 7.0 * 24.0 * HOUR_MS,
        }
    }

    /// The query string for this range, read now.
    fn query(self) -> String {
        let now = now_ms();
        format!(
            "from={}&to={}",
            encode(&rfc3339(now - self.millis())),
            encode(&rfc3339(now))
        )
    }
}

fn count(n: u64) -> String {
    thousands(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A series' totals over the range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    with: u64,
    without: u64,
    violations: u64,
}

impl Totals {
    fn of(series: &ViolationSeries) -> Totals {
        Totals {
            with: series.with_violations.iter().sum(),
            without: series.without_violations.iter().sum(),
            violations: series.violations.iter().sum(),
        }
    }

    fn add(self, other: Totals) -> Totals {
        Totals {
            with: self.with + other.with,
            without: self.without + other.without,
            violations: self.violations + other.violations,
        }
    }

    fn validated(self) -> u64 {
        self.with + self.without
    }

    fn share(self) -> f64 {
        if self.validated() == 0 {
            0.0
        } else {
            self.with as f64 / self.validated() as f64
        }
    }
}

/// A source's name (its id when it is gone).
fn source_name(names: &[(String, String)], source_id: &str) -> String {
    names
        .iter()
        .find(|(id, _)| id == source_id)
        .map_or(source_id, |(_, name)| name.as_str())
        .to_owned()
}

/// The layer label of a series: the source and the version.
fn series_label(names: &[(String, String)], series: &ViolationSeries) -> String {
    format!(
        "{} · v{}",
        source_name(names, &series.source_id),
        series.version
    )
}

/// Events with violations per bucket, one layer per source and version.
fn chart(counts: &Counts, names: &[(String, String)]) -> ChartData {
    let times: Vec<f64> = counts.buckets.iter().filter_map(|b| epoch_ms(b)).collect();
    if times.len() != counts.buckets.len() || times.is_empty() {
        return ChartData::default();
    }
    let step_ms = match times.as_slice() {
        [first, second, ..] if second > first => second - first,
        _ => HOUR_MS,
    };
    let layers = counts
        .series
        .iter()
        .enumerate()
        .map(|(i, series)| Layer {
            label: series_label(names, series),
            color: COLORS[i % COLORS.len()],
            counts: (0..times.len())
                .map(|b| series.with_violations.get(b).copied().unwrap_or(0) as f64)
                .collect(),
        })
        .collect();
    ChartData {
        times,
        step_ms,
        layers,
    }
}

/// Events validated against a plan over the last 24 hours or 7 days: those with violations over time per
/// source and version, their totals, and the violations by type. The numbers are read in the browser, once
/// the page is hydrated (the chart is drawn there anyway).
#[component]
pub fn ViolationCounts(ws: String, plan_id: String, latest_version: Option<i64>) -> impl IntoView {
    let span = RwSignal::new(Span::Day);
    let refresh = RwSignal::new(0u32);
    let hydrated = use_hydrated();
    view! {
        <div class="card" data-testid="violation-counts">
            <div class="card-header">
                <h2>"Violations reported"</h2>
                <div class="range-picker">
                    <div class="segmented" role="group" aria-label="Range">
                        {[Span::Day, Span::Week].into_iter().map(|s| view! {
                            <button type="button" data-testid=format!("violations-range-{}", s.key())
                                aria-pressed=move || (span.get() == s).to_string() on:click=move |_| span.set(s)>
                                {s.label()}
                            </button>
                        }).collect_view()}
                    </div>
                    <button type="button" class="btn small" data-testid="violations-refresh" title="Read the numbers again"
                        on:click=move |_| refresh.update(|r| *r += 1)>"Refresh"</button>
                </div>
            </div>
            {move || {
                if !hydrated.get() {
                    return Either::Right(view! { <Loading/> });
                }
                let base = format!("/api/v1/workspaces/{ws}");
                Either::Left(view! {
                    <CountsBody sources=format!("{base}/sources") path=format!("{base}/tracking-plans/{plan_id}/violations")
                        span=span refresh=refresh latest_version=latest_version/>
                })
            }}
        </div>
    }
}

#[component]
fn CountsBody(
    sources: String,
    path: String,
    span: RwSignal<Span>,
    refresh: RwSignal<u32>,
    latest_version: Option<i64>,
) -> impl IntoView {
    let api = use_api();
    let names = LocalResource::new({
        let api = api.clone();
        move || {
            let get = api.get::<Vec<Source>>(sources.clone());
            async move {
                // Without names the chart says ids: not worth an error.
                get.await
                    .map(|sources| {
                        sources
                            .into_iter()
                            .map(|s| (s.id, s.name))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            }
        }
    });
    let counts = LocalResource::new(move || {
        refresh.track();
        api.get::<Counts>(format!("{path}?{}", span.get().query()))
    });
    let data = Signal::derive(move || match (counts.get(), names.get()) {
        (Some(Ok(counts)), Some(names)) => chart(&counts, &names),
        _ => ChartData::default(),
    });
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match counts.await {
                    Ok(counts) => Either::Left(summary(counts)),
                    Err(e) => Either::Right(view! { <div class="card-body"><div class="alert error" role="alert">{e.message}</div></div> }),
                }
            })}
        </Transition>
        <div class="chart-body">
            <StackedBars data=data label="Events with violations per hour, by source and version" test_id="violations-chart"/>
        </div>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let names = names.await;
                counts.await.ok().filter(|c| !c.series.is_empty()).map(|counts| breakdown(counts, names, latest_version))
            })}
        </Transition>
    }
}

/// The range's totals, or why there are none.
fn summary(counts: Counts) -> impl IntoView {
    let range = match (counts.buckets.first(), counts.buckets.last()) {
        (Some(first), Some(last)) => format!(
            "{} to {}, per hour",
            minute_label(first),
            minute_label(last)
        ),
        _ => String::new(),
    };
    let totals = counts
        .series
        .iter()
        .map(Totals::of)
        .fold(Totals::default(), Totals::add);
    if totals.validated() == 0 {
        return Either::Right(view! {
            <div class="empty compact" data-testid="violations-empty">
                <p>"No validated events in this range."</p>
                <p class="muted small">"Data planes report what they validate once a source is linked to a published version of this plan: rudder-server's reporting (REPORTING_URL), with the tracking plan validator's counts."</p>
            </div>
        });
    }
    let stat = |label: &'static str, value: String, test_id: &'static str| {
        view! { <div class="stat"><span class="stat-label">{label}</span><span class="stat-value" data-testid=test_id>{value}</span></div> }
    };
    Either::Left(view! {
        <div class="card-body totals" data-testid="violations-totals">
            {stat("Validated", count(totals.validated()), "violations-validated")}
            {stat("With violations", count(totals.with), "violations-with")}
            {stat("Share", percent(totals.share()), "violations-share")}
            {stat("Violations", count(totals.violations), "violations-total")}
            <span class="spacer"></span>
            <span class="muted small">{range}</span>
        </div>
    })
}

/// Per source and version, and by type.
fn breakdown(counts: Counts, names: Vec<(String, String)>, latest: Option<i64>) -> impl IntoView {
    let by_type_empty = counts.by_type.is_empty();
    // Data planes report violations by type only; a property column only when one names a property.
    let with_property = counts.by_type.iter().any(|t| t.property.is_some());
    view! {
        <div class="grid-2 violations-breakdown">
            <table class="list" data-testid="violations-by-series">
                <thead><tr>
                    <th>"Source"</th><th>"Version"</th><th class="num">"Validated"</th>
                    <th class="num">"With violations"</th><th class="num">"%"</th>
                </tr></thead>
                <tbody>
                    {counts.series.iter().enumerate().map(|(i, series)| {
                        let totals = Totals::of(series);
                        let name = source_name(&names, &series.source_id);
                        let version = if Some(series.version) == latest {
                            format!("v{} (latest)", series.version)
                        } else {
                            format!("v{}", series.version)
                        };
                        view! {
                            <tr>
                                <td><span class=format!("swatch swatch-{}", i % COLORS.len())></span>{name}</td>
                                <td class="nowrap">{version}</td>
                                <td class="num">{count(totals.validated())}</td>
                                <td class="num" class:bad={totals.with > 0}>{count(totals.with)}</td>
                                <td class="num">{percent(totals.share())}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <table class="list" data-testid="violations-by-type">
                <thead><tr>
                    <th>"Violation type"</th>{with_property.then(|| view! { <th>"Property"</th> })}<th class="num">"Violations"</th>
                </tr></thead>
                <tbody>
                    {by_type_empty.then(|| view! { <tr><td colspan="3" class="muted">"No violations."</td></tr> })}
                    {counts.by_type.into_iter().map(|tally| view! {
                        <tr data-testid="violation-type-row">
                            <td>{type_badge(tally.violation_type)}</td>
                            {with_property.then(|| view! { <td>{tally.property.map(|p| view! { <code>{p}</code> })}</td> })}
                            <td class="num">{count(tally.count)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(source: &str, version: i64, with: Vec<u64>, without: Vec<u64>) -> ViolationSeries {
        ViolationSeries {
            source_id: source.into(),
            version,
            violations: with.iter().map(|n| n * 2).collect(),
            with_violations: with,
            without_violations: without,
        }
    }

    #[test]
    fn each_source_and_version_is_a_layer_and_totals_add_up() {
        let counts = Counts {
            buckets: vec![
                "2026-11-28T10:00:00Z".into(),
                "2026-11-28T11:00:00Z".into(),
                "2026-11-28T12:00:00Z".into(),
            ],
            series: vec![
                series("s1", 2, vec![1, 0, 3], vec![10, 10, 10]),
                series("gone", 1, vec![0, 5], vec![0, 5]),
            ],
            by_type: vec![],
        };
        let names = vec![("s1".to_owned(), "Shop website".to_owned())];
        let data = chart(&counts, &names);
        assert_eq!(data.times.len(), 3);
        assert_eq!(data.step_ms, HOUR_MS);
        assert_eq!(data.layers[0].label, "Shop website · v2");
        assert_eq!(data.layers[1].label, "gone · v1");
        assert_eq!(
            data.layers[1].counts,
            [0.0, 5.0, 0.0],
            "a short series is padded"
        );
        let totals = counts
            .series
            .iter()
            .map(Totals::of)
            .fold(Totals::default(), Totals::add);
        assert_eq!(
            totals,
            Totals {
                with: 9,
                without: 35,
                violations: 18
            }
        );
        assert_eq!(totals.validated(), 44);
        assert_eq!(Totals::default().share(), 0.0);
        assert!(Span::Week.query().starts_with("from="));
    }
}
