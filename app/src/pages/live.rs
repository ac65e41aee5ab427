//! The live debugger: the events data planes see right now, streamed over a websocket
//! (`GET /api/v1/workspaces/{ws}/live`), for the whole workspace or as a tab of a source or a destination.
//! The server renders the static shell; the browser opens the stream.
//!
//! Written to stay small in the wasm (it has a size budget): one signal for the capture's state, few reactive
//! closures, and frames read as JSON values rather than with derived deserializers (several kilobytes
//! each). `LiveFrame` and `LiveEvent` in `api::live` say what they hold; the tests check that the names read
//! here are theirs.

use std::sync::Arc;

use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_params_map};
use leptos_router::{lazy_route, LazyRoute};
use serde_json::Value;

use crate::api::destinations::Destination;
use crate::api::live::CAPTURE_DEFAULT_MINUTES;
use crate::api::sources::Source;
use crate::api::{use_api, ApiError};
use crate::components::layout::{error_view, PageHeader};
use crate::components::{CopyButton, Loading};
use crate::session::{encode, use_workspace};

/// The events kept in memory (newest first); older ones are counted as not shown.
const KEPT: usize = 500;

const STATUSES: &[&str] = &[
    "received",
    "succeeded",
    "failed",
    "aborted",
    "transformed",
    "dropped",
];

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        web_sys::js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64)
    }
}

/// An RFC 3339 time in milliseconds since the epoch.
pub fn epoch_ms(at: &str) -> Option<f64> {
    #[cfg(feature = "hydrate")]
    {
        Some(web_sys::js_sys::Date::parse(at)).filter(|t| t.is_finite())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        rfc3339_ms(at)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` in milliseconds since the epoch (on the server, which has no
/// `Date`; the browser's build leaves this out).
#[cfg(not(feature = "hydrate"))]
fn rfc3339_ms(at: &str) -> Option<f64> {
    let num = |range: std::ops::Range<usize>| at.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = at.get(19..)?;
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (
                format!("0.{}", &r[..digits]).parse::<f64>().ok()?,
                &r[digits..],
            )
        }
        None => (0.0, rest),
    };
    let offset_min = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (zone.get(1..3)?.parse::<i64>().ok()? * 60
                + zone.get(4..6)?.parse::<i64>().ok()?)
        }
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hh * 3600 + mm * 60 + ss - offset_min * 60;
    Some(seconds as f64 * 1000.0 + (fraction * 1000.0).round())
}

/// A duration for people: `42 s`, `5 min`, `3 h`, `2 days`.
pub fn span(ms: f64) -> String {
    let s = (ms / 1000.0).max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// A string field of a JSON object (empty when absent).
pub fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// What the stream is narrowed to, and how many times it was started again.
#[derive(Clone, Default, PartialEq, Debug)]
struct Filters {
    sources: Vec<String>,
    destinations: Vec<String>,
    event_type: String,
    event_name: String,
    status: String,
    restarts: u32,
}

impl Filters {
    /// The stream's query string.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn query(&self) -> String {
        let mut parts = Vec::new();
        for id in &self.sources {
            parts.push(format!("sourceId={}", encode(id)));
        }
        for id in &self.destinations {
            parts.push(format!("destinationId={}", encode(id)));
        }
        for (name, value) in [
            ("eventType", &self.event_type),
            ("eventName", &self.event_name),
            ("status", &self.status),
        ] {
            if !value.trim().is_empty() {
                parts.push(format!("{name}={}", encode(value.trim())));
            }
        }
        parts.join("&")
    }
}

/// "Settings | Live events | Volume", and "Errors" for a destination, on a source's or a destination's page
/// (`base`: the page's path; `kind`: `sources` or `destinations`, as in the path).
#[component]
pub fn DetailTabs(
    base: String,
    kind: &'static str,
    /// A warehouse destination or reverse-ETL source: it has a Warehouse tab (permissions, syncs, alerts).
    #[prop(optional)]
    warehouse: bool,
) -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Sections">
            <A href=base.clone() exact=true>"Settings"</A>
            {warehouse.then(|| view! { <A href=format!("{base}/warehouse")>"Warehouse"</A> })}
            <A href=format!("{base}/live")>"Live events"</A>
            <A href=format!("{base}/volume")>"Volume"</A>
            {(kind == "destinations").then(|| view! {
                <A href=format!("{base}/errors")>"Errors"</A>
                <A href=format!("{base}/consent")>"Consent"</A>
            })}
        </nav>
    }
}

/// The routes of the live debugger, loaded lazily: the page's code is a wasm chunk of its own, fetched the
/// first time the page is shown (`scripts/build-site` splits it out), not part of every page's first load.
pub struct LiveRoute;

#[lazy_route]
impl LazyRoute for LiveRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <LivePage/> }.into_any()
    }
}

/// `/w/:ws/live`, and `/w/:ws/sources/:id/live` and `/w/:ws/destinations/:id/live` with that source or
/// destination fixed (one component for the three routes: one route view in the wasm).
#[component]
pub fn LivePage() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let params = use_params_map();
    let kind = if use_location()
        .pathname
        .with_untracked(|p| p.contains("/destinations/"))
    {
        "destinations"
    } else {
        "sources"
    };
    let lists = Resource::new(|| (), {
        let ws = ws.clone();
        move |_| {
            let (api, ws) = (api.clone(), ws.clone());
            async move {
                let sources = api.get::<Vec<Source>>(ws.api("/sources")).await?;
                let destinations = api.get::<Vec<Destination>>(ws.api("/destinations")).await?;
                Ok::<_, ApiError>((sources, destinations))
            }
        }
    });
    view! {
        <Suspense fallback=Loading>
            {move || {
                let id = params.with(|m| m.get("id"));
                let ws = ws.clone();
                Suspend::new(async move {
                    let (sources, destinations) = match lists.await {
                        Ok(lists) => lists,
                        Err(e) => return Either::Right(error_view(e)),
                    };
                    // Whether the one shown is a warehouse (it has a Warehouse tab).
                    let warehouse = id.as_ref().is_some_and(|id| {
                        sources.iter().any(|s| &s.id == id && crate::api::warehouses::is_warehouse("sources", &s.source_type))
                            || destinations.iter().any(|d| &d.id == id && crate::api::warehouses::is_warehouse("destinations", &d.destination_type))
                    });
                    // (id, name) of both, for the table and the filters.
                    let sources: Vec<(String, String)> = sources.into_iter().map(|s| (s.id, s.name)).collect();
                    let destinations: Vec<(String, String)> = destinations.into_iter().map(|d| (d.id, d.name)).collect();
                    let header = match &id {
                        None => Either::Left(view! {
                            <Title text="Live events"/>
                            <PageHeader title="Live events" subtitle="Events passing through your data planes, as they happen."/>
                        }),
                        Some(id) => {
                            let list = if kind == "sources" { &sources } else { &destinations };
                            let Some((_, name)) = list.iter().find(|n| &n.0 == id).cloned() else {
                                return Either::Right(error_view(ApiError {
                                    status: 404,
                                    code: "not_found".into(),
                                    message: "It does not exist, or it was deleted.".into(),
                                    field: None,
                                    current_revision: None,
                                }));
                            };
                            Either::Right(view! {
                                <Title text=format!("{name}: live events")/>
                                <div class="breadcrumbs">
                                    <a href=ws.href(&format!("/{kind}"))>{if kind == "sources" { "Sources" } else { "Destinations" }}</a>
                                    " / "{name.clone()}
                                </div>
                                <PageHeader title=name/>
                                <DetailTabs base=ws.href(&format!("/{kind}/{id}")) kind=kind warehouse=warehouse/>
                            })
                        }
                    };
                    let fixed = id.map(|id| (kind, id));
                    Either::Left(view! { {header} {live_events(fixed, sources, destinations)} })
                })
            }}
        </Suspense>
    }
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Conn {
    #[default]
    Connecting,
    Live,
    Stopped,
    Failed,
}

/// One capture's state (one signal: the socket's handlers write it, the status bar reads it).
#[derive(Clone, Default)]
struct State {
    conn: Conn,
    /// Why it stopped or failed; an `error` frame's message while live.
    note: Option<String>,
    /// When the capture stops by itself (0 until the server said).
    until_ms: f64,
    now_ms: f64,
    /// Why this viewer gets no payloads, when it gets none.
    payloads_hidden: Option<String>,
    paused: bool,
    /// Not shown: arrived while paused, beyond the rows kept, lost by the server (the tab read too slowly).
    while_paused: u64,
    trimmed: u64,
    dropped: u64,
    next_id: u64,
}

/// An event (a `LiveEvent` as JSON) and its place in the capture.
#[derive(Clone)]
struct Row {
    id: u64,
    event: Arc<Value>,
}

/// Applies one `LiveFrame` (as JSON) to the page.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn apply(mut frame: Value, state: RwSignal<State>, rows: RwSignal<Vec<Row>>) {
    let kind = text(&frame, "type").to_owned();
    let field = |frame: &Value, key| Some(text(frame, key).to_owned()).filter(|t| !t.is_empty());
    match kind.as_str() {
        "capture" => state.update(|s| {
            s.until_ms = epoch_ms(text(&frame, "until")).unwrap_or(0.0);
            s.payloads_hidden = (frame.get("payloads") != Some(&Value::Bool(true))).then(|| {
                field(&frame, "payloadsHiddenBecause")
                    .unwrap_or_else(|| "payloads are not captured.".into())
            });
            s.conn = Conn::Live;
        }),
        "events" => {
            let dropped = frame.get("dropped").and_then(Value::as_u64).unwrap_or(0);
            let Some(Value::Array(events)) = frame.get_mut("events").map(Value::take) else {
                return;
            };
            let count = events.len() as u64;
            let mut first = None;
            state.update(|s| {
                s.dropped = dropped;
                if s.paused {
                    s.while_paused += count;
                } else {
                    first = Some(s.next_id);
                    s.next_id += count;
                }
            });
            let Some(first) = first else { return };
            // Newest first: the frame's last event on top.
            let mut fresh: Vec<Row> = events
                .into_iter()
                .enumerate()
                .map(|(i, event)| Row {
                    id: first + i as u64,
                    event: Arc::new(event),
                })
                .rev()
                .collect();
            let mut over = 0;
            rows.update(|rows| {
                fresh.append(rows);
                over = fresh.len().saturating_sub(KEPT) as u64;
                fresh.truncate(KEPT);
                *rows = fresh;
            });
            if over > 0 {
                state.update(|s| s.trimmed += over);
            }
        }
        "ended" => state.update(|s| {
            s.note = field(&frame, "reason");
            s.conn = Conn::Stopped;
        }),
        "error" => state.update(|s| s.note = field(&frame, "message")),
        _ => {}
    }
}

/// The browser's end of the stream; dropping it closes the socket without a word to the page.
#[cfg(feature = "hydrate")]
struct Socket {
    ws: web_sys::WebSocket,
    _handlers: [wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>; 3],
}

#[cfg(feature = "hydrate")]
impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onmessage(None);
        self.ws.set_onerror(None);
        self.ws.set_onclose(None);
        if self.ws.ready_state() == web_sys::WebSocket::CONNECTING {
            // Closed while connecting, the browser warns on the console: it is closed once open instead.
            let ws = self.ws.clone();
            let close = wasm_bindgen::closure::Closure::once_into_js(move || {
                let _ = ws.close();
            });
            self.ws
                .set_onopen(Some(wasm_bindgen::JsCast::unchecked_ref(&close)));
        } else {
            let _ = self.ws.close();
        }
    }
}

/// Opens the stream at `path` (same host as the page, `wss:` under `https:`).
#[cfg(feature = "hydrate")]
fn open(path: &str, state: RwSignal<State>, rows: RwSignal<Vec<Row>>) -> Option<Socket> {
    use wasm_bindgen::{closure::Closure, JsCast};
    let fail = move |why: &str| {
        state.update(|s| {
            if s.conn != Conn::Stopped {
                s.note = Some(why.into());
                s.conn = Conn::Failed;
            }
        })
    };
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let Ok(ws) = web_sys::WebSocket::new(&format!("{scheme}://{}{path}", location.host().ok()?))
    else {
        fail("Could not open the live stream.");
        return None;
    };
    let handler = |f: Box<dyn FnMut(web_sys::Event)>| Closure::wrap(f);
    let on_message = handler(Box::new(move |ev| {
        let text = ev
            .dyn_ref::<web_sys::MessageEvent>()
            .and_then(|m| m.data().as_string());
        if let Some(frame) = text.and_then(|t| serde_json::from_str::<Value>(&t).ok()) {
            apply(frame, state, rows);
        }
    }));
    let on_error = handler(Box::new(move |_| {
        fail(if state.with_untracked(|s| s.conn == Conn::Live) {
            "The connection was lost."
        } else {
            "Could not connect to the live stream."
        })
    }));
    let on_close = handler(Box::new(move |ev| {
        let reason = ev
            .dyn_ref::<web_sys::CloseEvent>()
            .map(|c| c.reason())
            .filter(|r| !r.is_empty());
        state.update(|s| {
            if matches!(s.conn, Conn::Connecting | Conn::Live) {
                s.note = reason;
                s.conn = Conn::Stopped;
            }
        });
    }));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    Some(Socket {
        ws,
        _handlers: [on_message, on_error, on_close],
    })
}

/// The filters, the status bar, the events and the payload viewer. `fixed`: the page's own source or
/// destination (`("sources", id)`), whose filter cannot change.
fn live_events(
    fixed: Option<(&'static str, String)>,
    sources: Vec<(String, String)>,
    destinations: Vec<(String, String)>,
) -> impl IntoView {
    let ws = use_workspace();
    let filters = RwSignal::new(match &fixed {
        None => Filters::default(),
        Some(("sources", id)) => Filters {
            sources: vec![id.clone()],
            ..Default::default()
        },
        Some((_, id)) => Filters {
            destinations: vec![id.clone()],
            ..Default::default()
        },
    });
    let state = RwSignal::new(State::default());
    let rows = RwSignal::new(Vec::<Row>::new());
    let selected = RwSignal::new(None::<Row>);

    #[cfg(feature = "hydrate")]
    let socket = StoredValue::new(None::<send_wrapper::SendWrapper<Socket>>);
    #[cfg(feature = "hydrate")]
    {
        let path = ws.api("/live");
        // A new stream for each set of filters, and for "Start again"; the old one is closed first.
        Effect::new(move |_| {
            let query = filters.with(Filters::query);
            socket.set_value(None);
            state.update(|s| {
                *s = State {
                    paused: s.paused,
                    next_id: s.next_id,
                    now_ms: now_ms(),
                    ..Default::default()
                }
            });
            rows.set(Vec::new());
            selected.set(None);
            let path = if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            };
            socket.set_value(open(&path, state, rows).map(send_wrapper::SendWrapper::new));
        });
        if let Ok(tick) = set_interval_with_handle(
            move || state.update(|s| s.now_ms = now_ms()),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || tick.clear());
        }
    }
    let extend = move |_| {
        #[cfg(feature = "hydrate")]
        socket.with_value(|s| {
            if let Some(s) = s {
                let command = crate::api::live::LiveCommand::Extend {
                    minutes: CAPTURE_DEFAULT_MINUTES,
                };
                let _ =
                    s.ws.send_with_str(&serde_json::to_string(&command).unwrap_or_default());
            }
        });
    };
    let pause = move |paused: bool| move |_| state.update(|s| s.paused = paused);

    let names: Vec<(String, String)> = sources.iter().chain(&destinations).cloned().collect();
    let names = StoredValue::new(names);
    let data_planes = ws.href("/data-planes");

    view! {
        <div class="stack">
            {live_filters(fixed.map(|(kind, _)| kind), sources, destinations, filters)}
            {move || state.with(|s| {
                let (class, key, label) = match s.conn {
                    Conn::Connecting => ("badge", "connecting", "Connecting…"),
                    Conn::Live => ("badge on", "live", "Live"),
                    Conn::Stopped => ("badge off", "stopped", "Capture stopped"),
                    Conn::Failed => ("badge fail", "error", "Error"),
                };
                let live = s.conn == Conn::Live;
                let left = ((s.until_ms - s.now_ms) / 1000.0).max(0.0) as u64;
                view! {
                    <div class="card">
                        <div class="card-body live-bar">
                            <span class=class data-testid="live-status" data-state=key>{label}</span>
                            <span class="muted" data-testid="live-countdown" hidden=!live>{format!("Stops in {}:{:02}", left / 60, left % 60)}</span>
                            <button type="button" class="btn small" data-testid="live-extend" hidden=!live on:click=extend>
                                {format!("Extend {CAPTURE_DEFAULT_MINUTES} minutes")}
                            </button>
                            <button type="button" class="btn small primary" data-testid="live-restart" hidden=!matches!(s.conn, Conn::Stopped | Conn::Failed)
                                on:click=move |_| filters.update(|f| f.restarts += 1)>
                                "Start again"
                            </button>
                            <span class="muted small">{s.note.clone()}</span>
                            <span class="spacer"></span>
                            <span class="muted" data-testid="live-not-shown"
                                title=format!("{} while paused, {} beyond the {KEPT} kept, {} lost because this tab read too slowly", s.while_paused, s.trimmed, s.dropped)>
                                {format!("{} not shown", s.while_paused + s.trimmed + s.dropped)}
                            </span>
                            <button type="button" class="btn small" data-testid="live-pause" hidden=s.paused on:click=pause(true)>"Pause"</button>
                            <button type="button" class="btn small" data-testid="live-resume" hidden=!s.paused on:click=pause(false)>"Resume"</button>
                        </div>
                        <div class="card-footer live-note muted small" hidden=s.payloads_hidden.is_none()>
                            {s.payloads_hidden.as_ref().map(|why| format!("Payloads hidden: {why}"))}
                        </div>
                    </div>
                }
            })}
            <div class="live-split">
                <div class="card">
                    {move || rows.with(|rows| names.with_value(|names| view! {
                        <div class="empty" hidden=!rows.is_empty()><p>
                            "No event yet. They appear here as your data planes send them; see "
                            <a href=data_planes.clone()>"Data planes"</a>" for which are connected."
                        </p></div>
                        <table class="list live" hidden=rows.is_empty()>
                            <thead><tr><th>"Time (UTC)"</th><th>"Stage"</th><th>"Source → destination"</th><th>"Event"</th><th>"Status"</th></tr></thead>
                            <tbody>{rows.iter().map(|row| live_row(row, names, selected)).collect_view()}</tbody>
                        </table>
                    }))}
                </div>
                {move || match selected.get() {
                    None => Either::Left(view! { <div class="card"><div class="card-body muted">"Click an event to see its payload."</div></div> }),
                    Some(row) => Either::Right(payload_viewer(row, state, selected)),
                }}
            </div>
        </div>
    }
}

/// The filter form; `fixed`: `sources` or `destinations` when the page is one of those (no picker for it).
fn live_filters(
    fixed: Option<&'static str>,
    sources: Vec<(String, String)>,
    destinations: Vec<(String, String)>,
    filters: RwSignal<Filters>,
) -> impl IntoView {
    let text = move |set: fn(&mut Filters, String)| {
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            filters.update(|f| set(f, value));
        }
    };
    let picker = move |label: &'static str,
                       test_id: &'static str,
                       options: Vec<(String, String)>,
                       set: fn(&mut Filters, Vec<String>)| {
        view! {
            <label class="field">
                <span class="label">{label}</span>
                <select multiple size="3" data-testid=test_id title="None chosen: all. Ctrl- or ⌘-click to choose several."
                    on:change=move |ev| filters.update(|f| set(f, chosen(&ev)))>
                    {options.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <form class="card filters" aria-label="Filter the live events" on:submit=|ev| ev.prevent_default()>
            <div class="card-body filter-row">
                {(fixed != Some("sources")).then(|| picker("Sources", "live-filter-source", sources, |f, v| f.sources = v))}
                {(fixed != Some("destinations")).then(|| picker("Destinations", "live-filter-destination", destinations, |f, v| f.destinations = v))}
                <label class="field">
                    <span class="label">"Event type"</span>
                    <input type="text" name="eventType" data-testid="live-filter-event-type" placeholder="track, identify…"
                        on:change=text(|f, v| f.event_type = v)/>
                </label>
                <label class="field">
                    <span class="label">"Event name"</span>
                    <input type="text" name="eventName" data-testid="live-filter-event-name" placeholder="Order Completed"
                        on:change=text(|f, v| f.event_name = v)/>
                </label>
                <label class="field">
                    <span class="label">"Status"</span>
                    <select name="status" data-testid="live-filter-status" on:change=text(|f, v| f.status = v)>
                        <option value="">"Any"</option>
                        {STATUSES.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
                    </select>
                </label>
            </div>
        </form>
    }
}

/// The values of a `<select multiple>`'s chosen options.
fn chosen(ev: &leptos::ev::Event) -> Vec<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(select) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
        else {
            return Vec::new();
        };
        let options = select.selected_options();
        (0..options.length())
            .filter_map(|i| options.item(i)?.get_attribute("value"))
            .collect()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        Vec::new()
    }
}

fn live_row(
    row: &Row,
    names: &[(String, String)],
    selected: RwSignal<Option<Row>>,
) -> impl IntoView {
    let id = row.id;
    let e = &*row.event;
    let name = |key| {
        let id = text(e, key);
        (!id.is_empty()).then(|| {
            names
                .iter()
                .find(|n| n.0 == id)
                .map_or(id, |n| n.1.as_str())
                .to_owned()
        })
    };
    let route = match (name("sourceId"), name("destinationId")) {
        (Some(s), Some(d)) => format!("{s} → {d}"),
        (Some(s), None) => s,
        (None, Some(d)) => format!("→ {d}"),
        (None, None) => String::new(),
    };
    let time = text(e, "time");
    let time: String = time
        .split_once('T')
        .map_or(time, |(_, t)| t.trim_end_matches('Z'))
        .chars()
        .take(12)
        .collect();
    let status = text(e, "status").to_owned();
    let status_class = match status.as_str() {
        "failed" | "aborted" => "badge fail",
        "dropped" => "badge off",
        _ => "badge on",
    };
    let status_code = e
        .get("statusCode")
        .and_then(Value::as_u64)
        .map(|c| format!(" {c}"));
    let row = row.clone();
    view! {
        <tr data-testid="live-row" data-status=text(e, "status").to_owned()
            class=move || if selected.with(|s| s.as_ref().map(|r| r.id) == Some(id)) { "clickable selected" } else { "clickable" }
            on:click=move |_| selected.set(Some(row.clone()))>
            <td class="nowrap mono">{time}</td>
            <td>{text(e, "stage").to_owned()}</td>
            <td>{route}</td>
            <td>{text(e, "eventName").to_owned()}<div class="muted small">{text(e, "eventType").to_owned()}</div></td>
            <td class="nowrap"><span class=status_class>{status}</span><span class="muted small">{status_code}</span></td>
        </tr>
    }
}

fn payload_viewer(
    row: Row,
    state: RwSignal<State>,
    selected: RwSignal<Option<Row>>,
) -> impl IntoView {
    let e = &*row.event;
    let missing = state
        .with_untracked(|s| s.payloads_hidden.clone())
        .unwrap_or_else(|| "The data plane sent none for this event.".into());
    let no_response = if text(e, "stage") == "source" {
        "Sources do not answer.".to_owned()
    } else {
        missing.clone()
    };
    let mut about = format!(
        "{} · {} · {}",
        text(e, "stage"),
        text(e, "eventType"),
        text(e, "time")
    );
    if let Some(attempt) = e.get("attempt").and_then(Value::as_u64) {
        about.push_str(&format!(" · attempt {attempt}"));
    }
    if let Some(plane) = e.get("dataPlane").and_then(Value::as_str) {
        about.push_str(&format!(" · {plane}"));
    }
    view! {
        <div class="card payload-viewer" data-testid="payload-viewer">
            <div class="card-header">
                <div><h2>{text(e, "eventName").to_owned()}</h2><div class="muted small">{about}</div></div>
                <button type="button" class="btn small ghost" on:click=move |_| selected.set(None)>"Close"</button>
            </div>
            <div class="card-body stack">
                {json_block("Payload", e.get("payload"), missing)}
                {json_block("Response", e.get("response"), no_response)}
            </div>
        </div>
    }
}

/// A JSON value pretty-printed with a copy button, or why there is none.
pub fn json_block(title: &'static str, value: Option<&Value>, missing: String) -> impl IntoView {
    let text = value
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_string_pretty(v).unwrap_or_default());
    let missing = text.is_none().then_some(missing);
    view! {
        <div>
            <div class="row"><h3>{title}</h3><span class="spacer"></span>
                {text.clone().map(|t| view! { <CopyButton text=t/> })}
            </div>
            {text.map(|t| view! { <pre class="snippet">{t}</pre> })}
            {missing.map(|m| view! { <p class="muted small">{m}</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::live::{LiveEvent, LiveFrame, LiveStage};

    #[test]
    fn filters_become_the_streams_query_string() {
        assert_eq!(Filters::default().query(), "");
        let filters = Filters {
            sources: vec!["s1".into(), "s2".into()],
            destinations: vec!["d1".into()],
            event_type: " track ".into(),
            event_name: "Order Completed".into(),
            status: "failed".into(),
            restarts: 3,
        };
        assert_eq!(
            filters.query(),
            "sourceId=s1&sourceId=s2&destinationId=d1&eventType=track&eventName=Order%20Completed&status=failed"
        );
    }

    #[test]
    fn spans_read_like_people_say_them() {
        assert_eq!(span(42_000.0), "42 s");
        assert_eq!(span(300_000.0), "5 min");
        assert_eq!(span(3.0 * 3_600_000.0), "3 h");
        assert_eq!(span(3.0 * 86_400_000.0), "3 days");
        assert_eq!(span(-5.0), "0 s");
    }

    #[test]
    fn rfc3339_times_become_epoch_milliseconds() {
        assert_eq!(epoch_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            epoch_ms("2026-11-28T10:15:30.123Z"),
            Some(1_795_860_930_123.0)
        );
        assert_eq!(
            epoch_ms("2026-11-28T11:15:30.123+01:00"),
            Some(1_795_860_930_123.0)
        );
        assert_eq!(epoch_ms("2000-02-29T00:00:00Z"), Some(951_782_400_000.0));
        assert_eq!(epoch_ms("yesterday"), None);
    }

    /// The frames as the server sends them (`LiveFrame`), read by `apply` into the page's state.
    #[test]
    fn frames_are_read_by_the_names_live_frame_gives_them() {
        let owner = Owner::new();
        owner.set();
        let (state, rows) = (RwSignal::new(State::default()), RwSignal::new(Vec::new()));
        let send = |frame: LiveFrame| apply(serde_json::to_value(frame).unwrap(), state, rows);
        send(LiveFrame::Capture {
            until: "2026-11-28T10:25:30Z".into(),
            payloads: false,
            payloads_hidden_because: Some("viewers do not see payloads".into()),
        });
        state.with_untracked(|s| {
            assert!(s.conn == Conn::Live);
            assert_eq!(s.until_ms, 1_795_861_530_000.0);
            assert_eq!(
                s.payloads_hidden.as_deref(),
                Some("viewers do not see payloads")
            );
        });
        let event = |name: &str| LiveEvent {
            stage: LiveStage::Destination,
            source_id: Some("s1".into()),
            destination_id: Some("d1".into()),
            transformation_id: None,
            event_name: name.into(),
            event_type: "track".into(),
            status: "failed".into(),
            status_code: Some(500),
            time: "2026-11-28T10:15:30.123Z".into(),
            payload: Some(serde_json::json!({"a": 1})),
            response: Some(serde_json::json!({"error": "boom"})),
            attempt: Some(2),
            data_plane: Some("dp-1".into()),
        };
        send(LiveFrame::Events {
            events: vec![event("first"), event("second")],
            dropped: 7,
        });
        rows.with_untracked(|rows| {
            let e = &rows[0].event;
            assert_eq!(text(e, "eventName"), "second", "newest first");
            for (key, value) in [
                ("stage", "destination"),
                ("sourceId", "s1"),
                ("destinationId", "d1"),
                ("eventType", "track"),
                ("status", "failed"),
                ("time", "2026-11-28T10:15:30.123Z"),
                ("dataPlane", "dp-1"),
            ] {
                assert_eq!(text(e, key), value, "{key}");
            }
            assert_eq!(e["statusCode"], 500);
            assert_eq!(e["attempt"], 2);
            assert_eq!(e["payload"]["a"], 1);
            assert_eq!(e["response"]["error"], "boom");
        });
        state.update(|s| s.paused = true);
        send(LiveFrame::Events {
            events: vec![event("third")],
            dropped: 9,
        });
        state.with_untracked(|s| assert_eq!((s.while_paused, s.dropped), (1, 9)));
        assert_eq!(rows.with_untracked(Vec::len), 2);
        send(LiveFrame::Error {
            message: "minutes must be 1 to 60".into(),
        });
        assert_eq!(
            state.with_untracked(|s| s.note.clone()).as_deref(),
            Some("minutes must be 1 to 60")
        );
        send(LiveFrame::Ended {
            reason: "time is up".into(),
        });
        state.with_untracked(|s| {
            assert!(s.conn == Conn::Stopped);
            assert_eq!(s.note.as_deref(), Some("time is up"));
        });
    }

    #[test]
    fn only_the_newest_rows_are_kept() {
        let owner = Owner::new();
        owner.set();
        let (state, rows) = (RwSignal::new(State::default()), RwSignal::new(Vec::new()));
        let events: Vec<Value> = (0..KEPT + 20)
            .map(|i| serde_json::json!({"eventName": i.to_string()}))
            .collect();
        apply(
            serde_json::json!({"type": "events", "events": events, "dropped": 0}),
            state,
            rows,
        );
        assert_eq!(state.with_untracked(|s| s.trimmed), 20);
        rows.with_untracked(|rows| {
            assert_eq!(rows.len(), KEPT);
            assert_eq!(text(&rows[0].event, "eventName"), (KEPT + 19).to_string());
        });
    }
}
