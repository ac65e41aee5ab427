//! Event volume and errors, as the data planes reported them: a tab of a source or a destination with its
//! events over a range (stacked by status, then by event name), and a destination's failures grouped by
//! cause with samples. Lazy routes: their code, the chart's included, is not part of the first load.
//!
//! Times are UTC throughout (the custom range's inputs too), as in the live debugger.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_params_map};
use leptos_router::{lazy_route, LazyRoute};

use super::live::{epoch_ms, json_block, now_ms, DetailTabs};
use crate::api::destinations::Destination;
use crate::api::sources::Source;
use crate::api::volume::{
    volume_query, ErrorGroup, ErrorGroups, ErrorSample, Granularity, VolumeDimension, VolumeRow,
    VolumeSeries,
};
use crate::api::workspaces::{Role, Workspace};
use crate::api::{use_api, ApiError};
use crate::components::chart::{minute_label, percent, rfc3339, thousands, ChartData, StackedBars};
use crate::components::layout::{error_view, PageHeader};
use crate::components::Loading;
use crate::session::use_workspace;

/// What an empty chart, table or list says: where the numbers come from.
pub const NO_DATA: &str = "No data yet: point a data plane at Wheelhouse (rudder-server's REPORTING_URL) or run the simulator (`wheelhouse simulate`).";

const SUCCEEDED: &str = "#40c057";
const FAILED: &str = "#fa5252";
const ABORTED: &str = "#fd7e14";
const OTHER: &str = "#adb5bd";
const RECEIVED: &str = "#4c6ef5";

/// How far back a preset range reaches, up to now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    Hour,
    Day,
    Week,
    Month,
}

impl Span {
    const ALL: [Span; 4] = [Span::Hour, Span::Day, Span::Week, Span::Month];

    fn label(self) -> &'static str {
        match self {
            Span::Hour => "1 h",
            Span::Day => "24 h",
            Span::Week => "7 d",
            Span::Month => "30 d",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Span::Hour => "1h",
            Span::Day => "24h",
            Span::Week => "7d",
            Span::Month => "30d",
        }
    }

    fn millis(self) -> i64 {
        match self {
            Span::Hour => 3_600_000,
            Span::Day => 86_400_000,
            Span::Week => 7 * 86_400_000,
            Span::Month => 30 * 86_400_000,
        }
    }

    /// Between 24 and 720 bars (60 for the last hour): enough to see a trend, few enough to hover one.
    fn granularity(self) -> Granularity {
        match self {
            Span::Hour => Granularity::Minute,
            Span::Day | Span::Week => Granularity::Hour,
            Span::Month => Granularity::Day,
        }
    }
}

/// The range a page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Range {
    /// Up to now, whenever the request is made (refreshing moves it along).
    Last(Span),
    /// Fixed, in milliseconds since the epoch; the server chooses the granularity.
    Between { from_ms: i64, to_ms: i64 },
}

impl Range {
    fn bounds(self) -> (f64, f64) {
        match self {
            Range::Last(span) => {
                let now = now_ms();
                (now - span.millis() as f64, now)
            }
            Range::Between { from_ms, to_ms } => (from_ms as f64, to_ms as f64),
        }
    }

    /// The query string of a volume request for this range, read now.
    fn query(self, group_by: &[VolumeDimension]) -> String {
        let (from, to) = self.bounds();
        let granularity = match self {
            Range::Last(span) => Some(span.granularity()),
            Range::Between { .. } => None,
        };
        volume_query(&rfc3339(from), &rfc3339(to), granularity, group_by)
    }

    /// The query string of an errors request (the server chooses the trends' granularity), read now.
    fn errors_query(self) -> String {
        let (from, to) = self.bounds();
        volume_query(&rfc3339(from), &rfc3339(to), None, &[])
    }
}

/// A source's page or a destination's, from the path (one route view for both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Source,
    Destination,
}

impl Kind {
    fn from_path() -> Kind {
        if use_location()
            .pathname
            .with_untracked(|p| p.contains("/destinations/"))
        {
            Kind::Destination
        } else {
            Kind::Source
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Source => "sources",
            Kind::Destination => "destinations",
        }
    }

    /// Which layer of the status chart a row's status belongs to.
    fn layer_of(self, status: Option<&str>) -> usize {
        match (self, status) {
            (Kind::Source, _) => 0,
            (Kind::Destination, Some("succeeded")) => 0,
            (Kind::Destination, Some("failed")) => 1,
            (Kind::Destination, Some("aborted")) => 2,
            (Kind::Destination, _) => 3,
        }
    }
}

/// The name of the source or destination `id`, and whether it is a warehouse (it has a Warehouse tab), for the
/// header.
async fn name_of(
    api: crate::api::Api,
    ws: crate::session::WorkspaceCtx,
    kind: Kind,
    id: String,
) -> Result<(String, bool), ApiError> {
    let path = ws.api(&format!("/{}/{id}", kind.path()));
    let warehouse = |type_name: &str| crate::api::warehouses::is_warehouse(kind.path(), type_name);
    match kind {
        Kind::Source => api
            .get::<Source>(path)
            .await
            .map(|s| (s.name, warehouse(&s.source_type))),
        Kind::Destination => api
            .get::<Destination>(path)
            .await
            .map(|d| (d.name, warehouse(&d.destination_type))),
    }
}

/// The header of a source's or a destination's tab: breadcrumbs, name, tabs.
fn detail_header(
    ws: &crate::session::WorkspaceCtx,
    kind: Kind,
    id: &str,
    (name, warehouse): (String, bool),
    what: &str,
) -> impl IntoView {
    let list = if kind == Kind::Source {
        "Sources"
    } else {
        "Destinations"
    };
    view! {
        <Title text=format!("{name}: {what}")/>
        <div class="breadcrumbs"><a href=ws.href(&format!("/{}", kind.path()))>{list}</a>" / "{name.clone()}</div>
        <PageHeader title=name/>
        <DetailTabs base=ws.href(&format!("/{}/{id}", kind.path())) kind=kind.path() warehouse=warehouse/>
    }
}

/// A card's header with the range it shows: presets, a custom range (UTC) and a refresh button. A range
/// that ends now is refreshed every 15 seconds while the page is open.
#[component]
fn RangeHeader(
    title: &'static str,
    range: RwSignal<Range>,
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let custom_open = RwSignal::new(matches!(range.get_untracked(), Range::Between { .. }));
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let invalid = RwSignal::new(None::<&'static str>);
    #[cfg(feature = "hydrate")]
    if let Ok(tick) = set_interval_with_handle(
        move || {
            if matches!(range.get_untracked(), Range::Last(_)) {
                refresh.update(|r| *r += 1);
            }
        },
        std::time::Duration::from_secs(15),
    ) {
        on_cleanup(move || tick.clear());
    }
    let open_custom = move |_| {
        // Starts from what is shown, to the minute, as `datetime-local` writes it.
        let (start, end) = range.get_untracked().bounds();
        from.set(rfc3339(start)[..16].to_owned());
        to.set(rfc3339(end)[..16].to_owned());
        invalid.set(None);
        custom_open.set(true);
    };
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let read = |value: String| epoch_ms(&format!("{value}:00Z")).map(|ms| ms as i64);
        match (read(from.get_untracked()), read(to.get_untracked())) {
            (Some(from_ms), Some(to_ms)) if from_ms < to_ms => {
                invalid.set(None);
                range.set(Range::Between { from_ms, to_ms });
            }
            (Some(_), Some(_)) => invalid.set(Some("The start must be before the end.")),
            _ => invalid.set(Some("Choose a start and an end.")),
        }
    };
    view! {
        <div class="card-header">
        <h2>{title}</h2>
        <div class="range-picker">
            <div class="segmented" role="group" aria-label="Range">
                {Span::ALL.into_iter().map(|span| view! {
                    <button type="button" data-testid=format!("range-{}", span.key())
                        aria-pressed=move || (range.get() == Range::Last(span) && !custom_open.get()).to_string()
                        on:click=move |_| { custom_open.set(false); range.set(Range::Last(span)); }>
                        {span.label()}
                    </button>
                }).collect_view()}
                <button type="button" data-testid="range-custom" aria-pressed=move || custom_open.get().to_string() on:click=open_custom>"Custom"</button>
            </div>
            <button type="button" class="btn small" data-testid="refresh" title="Read the numbers again"
                on:click=move |_| refresh.update(|r| *r += 1)>"Refresh"</button>
        </div>
        </div>
        <form class="custom-range" hidden=move || !custom_open.get() on:submit=apply aria-label="Custom range">
            <label class="field">
                <span class="label">"From (UTC)"</span>
                <input type="datetime-local" name="from" data-testid="range-from" prop:value=move || from.get()
                    on:input=move |ev| from.set(event_target_value(&ev))/>
            </label>
            <label class="field">
                <span class="label">"To (UTC)"</span>
                <input type="datetime-local" name="to" data-testid="range-to" prop:value=move || to.get()
                    on:input=move |ev| to.set(event_target_value(&ev))/>
            </label>
            <button type="submit" class="btn small primary" data-testid="range-apply">"Show"</button>
            {move || invalid.get().map(|why| view! { <span class="error small" role="alert">{why}</span> })}
        </form>
    }
}

/// The route of a source's and a destination's volume tab, loaded lazily.
pub struct VolumeRoute;

#[lazy_route]
impl LazyRoute for VolumeRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <VolumePage/> }.into_any()
    }
}

/// `/w/:ws/sources/:id/volume` and `/w/:ws/destinations/:id/volume`.
#[component]
fn VolumePage() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let kind = Kind::from_path();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|m| m.get("id")).unwrap_or_default());
    let name = Resource::new(move || id.get(), {
        let (api, ws) = (api.clone(), ws.clone());
        move |id| name_of(api.clone(), ws.clone(), kind, id)
    });
    let range = RwSignal::new(Range::Last(Span::Day));
    let refresh = RwSignal::new(0u32);
    let volume = Resource::new(move || (id.get(), range.get(), refresh.get()), {
        let ws = ws.clone();
        move |(id, range, _): (String, Range, u32)| {
            let (api, path) = (
                api.clone(),
                ws.api(&format!("/{}/{id}/volume", kind.path())),
            );
            async move {
                // One reading of "now" for both, so that they cover the same range.
                let by_status = range.query(&[VolumeDimension::Status]);
                let by_event = by_status.clone() + "&groupBy=eventName";
                let by_status = api
                    .get::<VolumeSeries>(format!("{path}?{by_status}"))
                    .await?;
                let by_event = api
                    .get::<VolumeSeries>(format!("{path}?{by_event}"))
                    .await?;
                Ok::<_, ApiError>((by_status, by_event))
            }
        }
    });
    let chart = Signal::derive(move || {
        volume
            .get()
            .and_then(Result::ok)
            .map(|(by_status, _)| status_chart(kind, &by_status))
            .unwrap_or_default()
    });
    view! {
        <Suspense fallback=Loading>
            {move || {
                let ws = ws.clone();
                Suspend::new(async move {
                let name = match name.await {
                    Ok(name) => name,
                    Err(e) => return Either::Right(error_view(e)),
                };
                Either::Left(view! {
                    {detail_header(&ws, kind, &id.get_untracked(), name, "volume")}
                    <div class="stack">
                        <div class="card">
                            <RangeHeader title="Event volume" range=range refresh=refresh/>
                            <Transition fallback=Loading>
                                {move || Suspend::new(async move {
                                    match volume.await {
                                        Ok((by_status, _)) => Either::Left(volume_totals(kind, &by_status)),
                                        Err(e) => Either::Right(view! { <div class="card-body"><div class="alert error" role="alert">{e.message}</div></div> }),
                                    }
                                })}
                            </Transition>
                            <div class="chart-body">
                                <StackedBars data=chart label="Events per bucket, stacked by status" test_id="volume-chart"/>
                            </div>
                        </div>
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                volume.await.ok().map(|(_, by_event)| view! { <EventTable kind=kind rows=by_event.rows/> })
                            })}
                        </Transition>
                    </div>
                })
            })
            }}
        </Suspense>
    }
}

/// The status chart: one bar per bucket of the range, stacked succeeded / failed / aborted / other for a
/// destination (aborted and other only when there are some), received for a source.
fn status_chart(kind: Kind, series: &VolumeSeries) -> ChartData {
    let layers: &[(&str, &'static str)] = match kind {
        Kind::Source => &[("Received", RECEIVED)],
        Kind::Destination => &[
            ("Succeeded", SUCCEEDED),
            ("Failed", FAILED),
            ("Aborted", ABORTED),
            ("Other", OTHER),
        ],
    };
    let step = series.granularity.millis() as f64;
    let (Some(from), Some(to)) = (epoch_ms(&series.from), epoch_ms(&series.to)) else {
        return ChartData::default();
    };
    let Some(mut chart) = ChartData::zeros(from, to, step, layers) else {
        return ChartData::default();
    };
    for row in &series.rows {
        if let Some(at) = epoch_ms(&row.time) {
            chart.add(kind.layer_of(row.status.as_deref()), at, row.count as f64);
        }
    }
    let mut position = 0;
    chart.layers.retain(|layer| {
        position += 1;
        position <= 2 || layer.counts.iter().any(|c| *c > 0.0)
    });
    chart
}

/// Counts over a range: everything a source received; what a destination delivered and failed.
#[derive(Clone, Debug, Default, PartialEq)]
struct Totals {
    /// Received (a source), or delivered (`succeeded`, a destination).
    delivered: i64,
    /// `failed` or `aborted`.
    failed: i64,
    /// Any other status (`filtered`, …).
    other: i64,
}

impl Totals {
    fn add(&mut self, kind: Kind, row: &VolumeRow) {
        match kind.layer_of(row.status.as_deref()) {
            0 => self.delivered += row.count,
            1 | 2 => self.failed += row.count,
            _ => self.other += row.count,
        }
    }

    fn failure_rate(&self) -> f64 {
        let attempted = self.delivered + self.failed;
        if attempted == 0 {
            0.0
        } else {
            self.failed as f64 / attempted as f64
        }
    }
}

fn volume_totals(kind: Kind, series: &VolumeSeries) -> impl IntoView {
    let mut totals = Totals::default();
    for row in &series.rows {
        totals.add(kind, row);
    }
    let per = match series.granularity {
        Granularity::Minute => "per minute",
        Granularity::Hour => "per hour",
        Granularity::Day => "per day",
    };
    let read = format!(
        "{} to {}, {per}",
        minute_label(&series.from),
        minute_label(&series.to)
    );
    if series.rows.is_empty() {
        return Either::Right(view! {
            <div class="empty compact" data-testid="volume-empty"><p>{NO_DATA}</p><p class="muted small">{read}</p></div>
        });
    }
    let stat = |label: &'static str, value: String, test_id: &'static str| {
        view! { <div class="stat"><span class="stat-label">{label}</span><span class="stat-value" data-testid=test_id>{value}</span></div> }
    };
    Either::Left(view! {
        <div class="card-body totals" data-testid="volume-totals">
            {match kind {
                Kind::Source => Either::Left(stat("Received", thousands(totals.delivered), "total-received")),
                Kind::Destination => Either::Right(view! {
                    {stat("Delivered", thousands(totals.delivered), "total-delivered")}
                    {stat("Failed", thousands(totals.failed), "total-failed")}
                    {stat("Failure rate", percent(totals.failure_rate()), "total-failure-rate")}
                    {(totals.other > 0).then(|| stat("Other statuses", thousands(totals.other), "total-other"))}
                }),
            }}
            <span class="spacer"></span>
            <span class="muted small">{read}</span>
        </div>
    })
}

/// One event name's counts over the range.
#[derive(Clone, Debug, Default, PartialEq)]
struct EventTotals {
    name: String,
    totals: Totals,
}

/// Rows grouped by event name and status, summed over time: one line per event name.
fn by_event_name(kind: Kind, rows: &[VolumeRow]) -> Vec<EventTotals> {
    let mut events: Vec<EventTotals> = Vec::new();
    for row in rows {
        let name = row.event_name.clone().unwrap_or_default();
        let index = match events.iter().position(|e| e.name == name) {
            Some(index) => index,
            None => {
                events.push(EventTotals {
                    name,
                    totals: Totals::default(),
                });
                events.len() - 1
            }
        };
        events[index].totals.add(kind, row);
    }
    events
}

/// A column of the event table to sort by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Name,
    /// Received, for a source.
    Delivered,
    Failed,
    FailureRate,
}

impl Column {
    fn key(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Delivered => "delivered",
            Column::Failed => "failed",
            Column::FailureRate => "failure-rate",
        }
    }
}

fn sort_events(events: &mut [EventTotals], column: Column, descending: bool) {
    events.sort_by(|a, b| {
        let order = match column {
            Column::Name => a.name.cmp(&b.name),
            Column::Delivered => a.totals.delivered.cmp(&b.totals.delivered),
            Column::Failed => a.totals.failed.cmp(&b.totals.failed),
            Column::FailureRate => a.totals.failure_rate().total_cmp(&b.totals.failure_rate()),
        };
        let order = if descending { order.reverse() } else { order };
        // Ties in the order people read names, whichever the direction.
        order.then_with(|| a.name.cmp(&b.name))
    });
}

/// The range's events by name, sortable by any column (click its header; again to reverse).
#[component]
fn EventTable(kind: Kind, rows: Vec<VolumeRow>) -> impl IntoView {
    let events = StoredValue::new(by_event_name(kind, &rows));
    let sort = RwSignal::new((Column::Delivered, true));
    let header = move |column: Column, label: &'static str| {
        let aria_sort = move || match sort.get() {
            (c, true) if c == column => "descending",
            (c, false) if c == column => "ascending",
            _ => "none",
        };
        let arrow = move || match sort.get() {
            (c, true) if c == column => " ▼",
            (c, false) if c == column => " ▲",
            _ => "",
        };
        view! {
            <th aria-sort=aria_sort class:num=column != Column::Name>
                <button type="button" class="sort" data-testid=format!("sort-{}", column.key())
                    on:click=move |_| sort.update(|(current, descending)| {
                        if *current == column {
                            *descending = !*descending;
                        } else {
                            // Numbers largest first, names from A.
                            *current = column;
                            *descending = column != Column::Name;
                        }
                    })>
                    {label}{arrow}
                </button>
            </th>
        }
    };
    let empty = events.with_value(Vec::is_empty);
    view! {
        <div class="card">
            <div class="card-header"><h2>"By event name"</h2><span class="hint">"Over the same range"</span></div>
            {if empty {
                Either::Left(view! { <div class="empty compact"><p>{NO_DATA}</p></div> })
            } else {
                Either::Right(view! {
                    <table class="list" data-testid="volume-by-event">
                        <thead><tr>
                            {header(Column::Name, "Event name")}
                            {match kind {
                                Kind::Source => Either::Left(header(Column::Delivered, "Received")),
                                Kind::Destination => Either::Right(view! {
                                    {header(Column::Delivered, "Delivered")}
                                    {header(Column::Failed, "Failed")}
                                    {header(Column::FailureRate, "Failure rate")}
                                }),
                            }}
                        </tr></thead>
                        <tbody>
                            {move || {
                                let (column, descending) = sort.get();
                                let mut sorted = events.get_value();
                                sort_events(&mut sorted, column, descending);
                                sorted.into_iter().map(|event| event_row(kind, event)).collect_view()
                            }}
                        </tbody>
                    </table>
                })
            }}
        </div>
    }
}

fn event_row(kind: Kind, event: EventTotals) -> impl IntoView {
    let name = if event.name.is_empty() {
        Either::Left(view! { <span class="faint">"(no event name)"</span> })
    } else {
        Either::Right(event.name.clone())
    };
    view! {
        <tr data-testid="volume-event-row">
            <td>{name}</td>
            <td class="num">{thousands(event.totals.delivered)}</td>
            {(kind == Kind::Destination).then(|| view! {
                <td class="num">{thousands(event.totals.failed)}</td>
                <td class="num">{percent(event.totals.failure_rate())}</td>
            })}
        </tr>
    }
}

/// The route of a destination's errors tab, loaded lazily.
pub struct ErrorsRoute;

#[lazy_route]
impl LazyRoute for ErrorsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <ErrorsPage/> }.into_any()
    }
}

/// Why samples are missing, when they are missing for the whole page.
fn samples_hidden_because(disabled_in_workspace: bool, can_see: bool) -> Option<&'static str> {
    if disabled_in_workspace {
        Some("This workspace drops event samples from error reports as they arrive (Settings → General), so failures have no samples.")
    } else if !can_see {
        Some("Samples of failed events (the event sent and the destination's answer) are shown to editors and admins only.")
    } else {
        None
    }
}

/// `/w/:ws/destinations/:id/errors`.
#[component]
fn ErrorsPage() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|m| m.get("id")).unwrap_or_default());
    let name = Resource::new(move || id.get(), {
        let (api, ws) = (api.clone(), ws.clone());
        move |id| name_of(api.clone(), ws.clone(), Kind::Destination, id)
    });
    let samples_off = Resource::new(|| (), {
        let (api, path) = (api.clone(), ws.api(""));
        move |_| {
            let get = api.get::<Workspace>(path.clone());
            async move { get.await.is_ok_and(|w| w.disable_reporting_pii) }
        }
    });
    let range = RwSignal::new(Range::Last(Span::Day));
    let refresh = RwSignal::new(0u32);
    let errors = Resource::new(move || (id.get(), range.get(), refresh.get()), {
        let ws = ws.clone();
        move |(id, range, _): (String, Range, u32)| {
            let path = ws.api(&format!("/destinations/{id}/errors"));
            api.get::<ErrorGroups>(format!("{path}?{}", range.errors_query()))
        }
    });
    let can_see_samples = ws.can(Role::Editor);
    view! {
        <Suspense fallback=Loading>
            {move || {
                let ws = ws.clone();
                Suspend::new(async move {
                let name = match name.await {
                    Ok(name) => name,
                    Err(e) => return Either::Right(error_view(e)),
                };
                let hidden_because = samples_hidden_because(samples_off.await, can_see_samples);
                Either::Left(view! {
                    {detail_header(&ws, Kind::Destination, &id.get_untracked(), name, "errors")}
                    <div class="card">
                        <RangeHeader title="Errors" range=range refresh=refresh/>
                        {hidden_because.map(|why| view! { <div class="card-body notice"><div class="alert info" data-testid="samples-hidden">{why}</div></div> })}
                        <Transition fallback=Loading>
                            {move || Suspend::new(async move {
                                match errors.await {
                                    Ok(found) if found.groups.is_empty() => Either::Left(view! {
                                        <div class="empty compact" data-testid="errors-empty">
                                            <p>{format!("No failed events from {} to {}.", minute_label(&found.from), minute_label(&found.to))}</p>
                                            <p class="muted small">"If nothing arrives at all: point a data plane at Wheelhouse (rudder-server's REPORTING_URL) or run the simulator (`wheelhouse simulate`)."</p>
                                        </div>
                                    }),
                                    Ok(found) => Either::Right(Either::Left(view! {
                                        <div class="error-groups">
                                            {found.groups.iter().map(|group| error_group(&found, group, hidden_because.is_some())).collect_view()}
                                        </div>
                                    })),
                                    Err(e) => Either::Right(Either::Right(view! { <div class="card-body"><div class="alert error" role="alert">{e.message}</div></div> })),
                                }
                            })}
                        </Transition>
                    </div>
                })
            })
            }}
        </Suspense>
    }
}

/// A group's failed events per bucket, over the page's range.
fn trend_chart(found: &ErrorGroups, group: &ErrorGroup) -> ChartData {
    let step = found.granularity.millis() as f64;
    let (Some(from), Some(to)) = (epoch_ms(&found.from), epoch_ms(&found.to)) else {
        return ChartData::default();
    };
    let Some(mut chart) = ChartData::zeros(from, to, step, &[("Failed events", FAILED)]) else {
        return ChartData::default();
    };
    for point in &group.trend {
        if let Some(at) = epoch_ms(&point.time) {
            chart.add(0, at, point.count as f64);
        }
    }
    chart
}

fn error_group(found: &ErrorGroups, group: &ErrorGroup, explained_above: bool) -> impl IntoView {
    let status = if group.status_code == 0 {
        "no status".to_owned()
    } else {
        group.status_code.to_string()
    };
    let trend = trend_chart(found, group);
    let samples = group.samples.clone();
    let sample_count = samples.len();
    view! {
        <section class="error-group" data-testid="error-group">
            <div class="error-head">
                <span class="badge fail" data-testid="error-status">{status}</span>
                {(!group.error_code.is_empty()).then(|| view! { <span class="badge">{group.error_code.clone()}</span> })}
                <code class="error-message">{group.message.clone()}</code>
                <span class="spacer"></span>
                <span class="error-count"><strong data-testid="error-count">{thousands(group.count)}</strong>" failed"</span>
            </div>
            <div class="muted small">
                {format!("First seen {} · last seen {}", minute_label(&group.first_seen), minute_label(&group.last_seen))}
            </div>
            {(!group.event_names.is_empty()).then(|| view! {
                <div class="event-names">
                    {group.event_names.iter().map(|name| if name.is_empty() {
                        Either::Left(view! { <span class="badge off">"(no event name)"</span> })
                    } else {
                        Either::Right(view! { <span class="badge">{name.clone()}</span> })
                    }).collect_view()}
                </div>
            })}
            <StackedBars data=Signal::stored(trend) label="Failed events per bucket" test_id="error-trend" compact=true/>
            {if samples.is_empty() {
                Either::Left((!explained_above).then(|| view! { <p class="muted small">"No sample was reported for these failures."</p> }))
            } else {
                Either::Right(view! {
                    <details class="samples" data-testid="error-samples">
                        <summary>{format!("{sample_count} sample{}", if sample_count == 1 { "" } else { "s" })}</summary>
                        {samples.into_iter().map(|sample| view! {
                            <div class="sample">
                                <div class="muted small">{sample_about(&sample)}</div>
                                <p class="mono small">{sample.message.clone()}</p>
                                <div class="grid-2">
                                    {json_block("Event sent", sample.event.as_ref(), "The data plane sent none.".into())}
                                    {json_block("Response", sample.response.as_ref(), "The data plane sent none.".into())}
                                </div>
                            </div>
                        }).collect_view()}
                    </details>
                })
            }}
        </section>
    }
}

/// When a sample was reported, and which event it was (an `identify` has no name, only its type).
fn sample_about(sample: &ErrorSample) -> String {
    [
        minute_label(&sample.time),
        sample.event_name.clone(),
        sample.event_type.clone(),
    ]
    .into_iter()
    .filter(|part| !part.is_empty())
    .collect::<Vec<_>>()
    .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::chart::bucket_label;

    fn row(time: &str, status: &str, event: &str, count: i64) -> VolumeRow {
        VolumeRow {
            time: time.into(),
            count,
            status: Some(status.into()),
            event_name: (!event.is_empty()).then(|| event.into()),
            ..Default::default()
        }
    }

    fn series(rows: Vec<VolumeRow>) -> VolumeSeries {
        VolumeSeries {
            granularity: Granularity::Minute,
            from: "2026-11-28T10:00:00Z".into(),
            to: "2026-11-28T10:03:30Z".into(),
            rows,
        }
    }

    #[test]
    fn a_destinations_statuses_stack_in_their_layers() {
        let chart = status_chart(
            Kind::Destination,
            &series(vec![
                row("2026-11-28T10:01:00Z", "succeeded", "", 7),
                row("2026-11-28T10:01:00Z", "failed", "", 2),
                row("2026-11-28T10:01:00Z", "aborted", "", 1),
                row("2026-11-28T10:03:00Z", "succeeded", "", 4),
            ]),
        );
        let labels: Vec<&str> = chart.layers.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            ["Succeeded", "Failed", "Aborted"],
            "no empty Other layer"
        );
        assert_eq!(chart.times.len(), 4);
        assert_eq!(chart.layers[0].counts, [0.0, 7.0, 0.0, 4.0]);
        assert_eq!(chart.stacked()[2], [0.0, 10.0, 0.0, 4.0]);
        assert_eq!(chart.legend_text(2, Some(1)), "2");

        let source = status_chart(
            Kind::Source,
            &series(vec![row("2026-11-28T10:00:00Z", "succeeded", "", 3)]),
        );
        assert_eq!(source.layers.len(), 1);
        assert_eq!(source.layers[0].label, "Received");
        assert!(status_chart(Kind::Source, &series(vec![])).is_empty());
    }

    #[test]
    fn events_are_summed_over_time_and_sorted_by_any_column() {
        let rows = vec![
            row("2026-11-28T10:00:00Z", "succeeded", "Order Completed", 10),
            row("2026-11-28T10:01:00Z", "succeeded", "Order Completed", 5),
            row("2026-11-28T10:01:00Z", "failed", "Order Completed", 3),
            row("2026-11-28T10:01:00Z", "aborted", "Order Completed", 2),
            row("2026-11-28T10:00:00Z", "succeeded", "Page Viewed", 40),
            row("2026-11-28T10:00:00Z", "failed", "Signed Up", 1),
            row("2026-11-28T10:00:00Z", "filtered", "Signed Up", 6),
        ];
        let mut events = by_event_name(Kind::Destination, &rows);
        let order = Totals {
            delivered: 15,
            failed: 5,
            other: 0,
        };
        assert_eq!(events[0].totals, order);
        assert_eq!(order.failure_rate(), 0.25);
        sort_events(&mut events, Column::Delivered, true);
        let names =
            |events: &[EventTotals]| events.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&events),
            ["Page Viewed", "Order Completed", "Signed Up"]
        );
        sort_events(&mut events, Column::FailureRate, true);
        assert_eq!(
            names(&events),
            ["Signed Up", "Order Completed", "Page Viewed"]
        );
        sort_events(&mut events, Column::Name, false);
        assert_eq!(
            names(&events),
            ["Order Completed", "Page Viewed", "Signed Up"]
        );
        assert_eq!(events[2].totals.other, 6);

        let received = by_event_name(Kind::Source, &rows);
        assert_eq!(
            received[0].totals.delivered, 20,
            "a source counts every status as received"
        );
    }

    #[test]
    fn preset_ranges_ask_for_their_granularity() {
        let query = Range::Last(Span::Hour).query(&[VolumeDimension::Status]);
        assert!(
            query.ends_with("&granularity=minute&groupBy=status"),
            "{query}"
        );
        let fixed = Range::Between {
            from_ms: 1_795_860_000_000,
            to_ms: 1_795_863_600_000,
        };
        assert_eq!(
            fixed.query(&[]),
            "from=2026-11-28T10%3A00%3A00Z&to=2026-11-28T11%3A00%3A00Z"
        );
        assert_eq!(
            Range::Last(Span::Day).errors_query().matches('&').count(),
            1,
            "errors take from and to only"
        );
        assert_eq!(Span::Month.granularity(), Granularity::Day);
        assert_eq!(
            bucket_label(1_795_860_000_000.0, 3_600_000.0),
            "2026-11-28 10:00 UTC"
        );
    }

    #[test]
    fn missing_samples_are_explained_once() {
        assert!(samples_hidden_because(true, true)
            .unwrap()
            .contains("drops event samples"));
        assert!(samples_hidden_because(false, false)
            .unwrap()
            .contains("editors and admins"));
        assert_eq!(samples_hidden_because(false, true), None);
    }
}
