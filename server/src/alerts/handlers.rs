use app::api::warehouses::{
    AlertSubscription, Alerts, ChangeSubscription, NotificationSettings, UpdateNotificationSettings,
};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Principal;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alerts))
        .routes(routes!(get_destination_alerts, put_destination_alerts))
        .routes(routes!(get_source_alerts, put_source_alerts))
        .routes(routes!(get_notifications, put_notifications))
}

/// The alert mail of the workspace, newest first (at most 500): what was sent to whom and when, and what is
/// still queued (delivery is retried with backoff while the SMTP server is unreachable).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/alerts", tag = "alerts",
    params(("ws" = String, Path)),
    responses((status = 200, body = Alerts), (status = 404, body = ErrorBody)))]
async fn list_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Alerts>> {
    Ok(Json(super::list(&state, &principal.actor, &ws).await?))
}

/// Whether you get this warehouse destination's alerts (any member, signed in).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations/{id}/alerts", tag = "alerts",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AlertSubscription), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_destination_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<AlertSubscription>> {
    Ok(Json(
        super::subscription(&state, &principal.actor, &ws, "destination", &id).await?,
    ))
}

/// Subscribe to (`true`) or unsubscribe from (`false`) this destination's alerts, or return to the default
/// (`null`: admins and owners get them, others not).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/destinations/{id}/alerts", tag = "alerts",
    params(("ws" = String, Path), ("id" = String, Path)),
    request_body = ChangeSubscription,
    responses((status = 200, body = AlertSubscription), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn put_destination_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ChangeSubscription>,
) -> ApiResult<Json<AlertSubscription>> {
    Ok(Json(
        super::set_subscription(&state, &principal.actor, &ws, "destination", &id, body).await?,
    ))
}

/// Whether you get this reverse-ETL source's alerts (any member, signed in).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources/{id}/alerts", tag = "alerts",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AlertSubscription), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_source_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<AlertSubscription>> {
    Ok(Json(
        super::subscription(&state, &principal.actor, &ws, "source", &id).await?,
    ))
}

/// Subscribe to or unsubscribe from this source's alerts, or return to the default (`null`).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/sources/{id}/alerts", tag = "alerts",
    params(("ws" = String, Path), ("id" = String, Path)),
    request_body = ChangeSubscription,
    responses((status = 200, body = AlertSubscription), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn put_source_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ChangeSubscription>,
) -> ApiResult<Json<AlertSubscription>> {
    Ok(Json(
        super::set_subscription(&state, &principal.actor, &ws, "source", &id, body).await?,
    ))
}

/// Your notification settings: whether you muted all alerts, and the resources you chose for.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "alerts",
    responses((status = 200, body = NotificationSettings), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn get_notifications(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(super::settings(&state, &principal.actor).await?))
}

/// Mute (or unmute) every alert mail to you.
#[utoipa::path(put, path = "/api/v1/me/notifications", tag = "alerts",
    request_body = UpdateNotificationSettings,
    responses((status = 200, body = NotificationSettings), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn put_notifications(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<UpdateNotificationSettings>,
) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(
        super::update_settings(&state, &principal.actor, body).await?,
    ))
}
