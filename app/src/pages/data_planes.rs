//! The data planes that talked to this workspace recently: what they run, which config revision, how far
//! behind, and what they sent to the live debugger. Refreshed every 5 seconds in the browser.
//!
//! The list (`DataPlaneList` in `api::live`) is read as JSON rather than with derived deserializers, to keep
//! the wasm small; the test checks the names read here are `DataPlane`'s.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};
use serde_json::Value;

use super::live::{epoch_ms, now_ms, span, text};
use crate::api::use_api;
use crate::components::layout::{error_view, PageHeader};
use crate::components::{use_browser_origin, Loading};
use crate::session::use_workspace;

/// The route of the data planes page, loaded lazily: the page's code is a wasm chunk of its own, fetched the
/// first time the page is shown (`scripts/build-site` splits it out), not part of every page's first load.
pub struct DataPlanesRoute;

#[lazy_route]
impl LazyRoute for DataPlanesRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <DataPlanes/> }.into_any()
    }
}

#[component]
pub fn DataPlanes() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let version = RwSignal::new(0u32);
    let planes = Resource::new(move || version.get(), {
        let path = ws.api("/data-planes");
        move |_| api.get::<Value>(path.clone())
    });
    #[cfg(feature = "hydrate")]
    if let Ok(tick) = set_interval_with_handle(
        move || version.update(|v| *v += 1),
        std::time::Duration::from_secs(5),
    ) {
        on_cleanup(move || tick.clear());
    }
    let origin = use_browser_origin();
    let tokens = ws.href("/settings/data-planes");
    view! {
        <Title text="Data planes"/>
        <PageHeader title="Data planes" subtitle="The data planes that talked to this workspace recently."/>
        <Transition fallback=Loading>
            {move || {
                let tokens = tokens.clone();
                Suspend::new(async move {
                    let list = match planes.await {
                        Ok(list) => list,
                        Err(e) => return EitherOf3::A(error_view(e)),
                    };
                    let planes = list["dataPlanes"].as_array().cloned().unwrap_or_default();
                    if planes.is_empty() {
                        return EitherOf3::B(view! {
                            <div class="card" data-testid="data-planes-empty"><div class="empty">
                                <h2>"No data plane yet"</h2>
                                <p>"Start rudder-server with a data-plane token of this workspace, or try the simulator:"</p>
                                <pre class="snippet">{move || format!("wheelhouse simulate --url {} --token <data-plane token>", origin.get())}</pre>
                                <p class="spaced-top"><a class="btn primary" href=tokens>"Data-plane tokens"</a></p>
                            </div></div>
                        });
                    }
                    let now = now_ms();
                    EitherOf3::C(view! {
                        <div class="card">
                            <table class="list">
                                <thead><tr>
                                    <th>"Instance"</th><th>"Software"</th><th>"Address"</th><th>"Status"</th>
                                    <th>"Last seen"</th><th>"Config"</th><th>"Events"</th><th>"Rejected"</th>
                                </tr></thead>
                                <tbody>
                                    {planes.iter().map(|p| plane_row(p, now)).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    })
                })
            }}
        </Transition>
    }
}

/// One `DataPlane` (as JSON).
fn plane_row(p: &Value, now: f64) -> impl IntoView {
    let num = |key| p.get(key).and_then(Value::as_i64).unwrap_or(0);
    let s = |key| text(p, key).to_owned();
    let (status_class, status) = if p["connected"] == true {
        ("badge on", "Connected")
    } else if text(p, "transport") == "polling" {
        ("badge", "Polling")
    } else {
        ("badge off", "Disconnected")
    };
    let (behind_class, behind) = match num("revisionsBehind") {
        0 => ("badge on", "current".to_owned()),
        n => (
            "badge warn",
            format!(
                "{n} revision{} behind (for {})",
                if n == 1 { "" } else { "s" },
                span(num("behindMs") as f64)
            ),
        ),
    };
    let last_seen = text(p, "lastSeen");
    let seen =
        epoch_ms(last_seen).map_or(last_seen.to_owned(), |t| format!("{} ago", span(now - t)));
    view! {
        <tr data-testid="data-plane-row">
            <td><code>{s("instanceId")}</code><div class="muted small">{s("transport")}</div></td>
            <td>{s("software")}<div class="muted small">{s("version")}</div></td>
            <td class="muted">{s("address")}</td>
            <td><span class=status_class>{status}</span></td>
            <td class="nowrap">{seen}</td>
            <td>
                <div>{format!("Runs revision {} of {}", num("appliedRevision"), num("currentRevision"))}</div>
                <span class=behind_class>{behind}</span>
            </td>
            <td>{num("eventsReceived")}</td>
            <td>{num("framesRejected")}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use crate::api::live::{DataPlane, DataPlaneList};

    #[test]
    fn the_names_read_are_those_of_data_plane() {
        let plane = DataPlane {
            instance_id: "dp-1".into(),
            transport: "websocket".into(),
            software: "rudder-server".into(),
            version: "1.40.0".into(),
            address: "10.0.0.7".into(),
            connected: true,
            first_seen: "2026-11-28T10:00:00Z".into(),
            last_seen: "2026-11-28T10:15:30Z".into(),
            applied_revision: 4,
            applied_at: "2026-11-28T10:01:00Z".into(),
            current_revision: 6,
            current_since: "2026-11-28T10:10:00Z".into(),
            revisions_behind: 2,
            behind_ms: 330_000,
            events_received: 120,
            frames_rejected: 1,
        };
        let list = serde_json::to_value(DataPlaneList {
            data_planes: vec![plane],
            current_revision: 6,
        })
        .unwrap();
        let p = &list["dataPlanes"][0];
        for key in [
            "instanceId",
            "transport",
            "software",
            "version",
            "address",
            "connected",
            "lastSeen",
            "appliedRevision",
            "currentRevision",
            "revisionsBehind",
            "behindMs",
            "eventsReceived",
            "framesRejected",
        ] {
            assert!(p.get(key).is_some(), "{key}");
        }
    }
}
