//! The workspace's alert mail (`/w/:ws/alerts`): what was sent to whom and when, and what is still queued
//! (delivery retries while the SMTP server is unreachable). A lazy route.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::use_api;
use crate::api::warehouses::Alerts;
use crate::components::chart::minute_label;
use crate::components::layout::{error_view, PageHeader};
use crate::components::Loading;
use crate::session::use_workspace;

pub struct AlertsRoute;

#[lazy_route]
impl LazyRoute for AlertsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AlertsPage/> }.into_any()
    }
}

fn event_label(event: &str) -> &'static str {
    match event {
        "failing" => "started failing",
        "reminder" => "still failing (daily reminder)",
        "recovered" => "recovered",
        _ => "",
    }
}

#[component]
fn AlertsPage() -> impl IntoView {
    let ws = use_workspace();
    let api = use_api();
    let path = ws.api("/alerts");
    let alerts = Resource::new(|| (), move |_| api.get::<Alerts>(path.clone()));
    view! {
        <Title text="Alerts"/>
        <PageHeader title="Alerts" subtitle="Mail sent when a warehouse's syncs or permission checks start failing, while they fail, and when they recover."/>
        <Transition fallback=Loading>
            {move || {
                let ws = ws.clone();
                Suspend::new(async move {
                    let alerts = match alerts.await {
                        Ok(alerts) => alerts.alerts,
                        Err(e) => return Either::Right(error_view(e)),
                    };
                    if alerts.is_empty() {
                        return Either::Left(Either::Left(view! {
                            <div class="card"><div class="card-body"><p class="muted" data-testid="alerts-empty">"No alert has been sent."</p></div></div>
                        }));
                    }
                    Either::Left(Either::Right(view! {
                        <div class="card">
                            <table class="list" data-testid="alert-history">
                                <thead><tr><th>"When"</th><th>"Warehouse"</th><th>"What"</th><th>"To"</th><th>"Delivery"</th><th>"Error"</th></tr></thead>
                                <tbody>
                                    {alerts.into_iter().map(|a| {
                                        let href = ws.href(&format!("/{}s/{}/warehouse", a.resource_type, a.resource_id));
                                        let what = format!("{} {}", if a.cause == "validation" { "permission check" } else { "sync" }, event_label(&a.event));
                                        let delivery = match a.sent_at.as_deref() {
                                            Some(at) => format!("sent {}", minute_label(at)),
                                            None => a.status.clone(),
                                        };
                                        view! {
                                            <tr data-event=a.event.clone() data-status=a.status.clone()>
                                                <td>{minute_label(&a.created_at)}</td>
                                                <td><a href=href>{a.resource_name}</a></td>
                                                <td>{what}</td>
                                                <td>{a.email}</td>
                                                <td>{delivery}</td>
                                                <td class="error-text">{a.error.unwrap_or_default()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }))
                })
            }}
        </Transition>
    }
}
