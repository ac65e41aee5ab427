use app::api::audit::AuditPage;
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Filter;
use crate::http::auth::Principal;
use crate::http::error::ApiResult;
use crate::http::json::ApiQuery;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_log))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// An actor's id (user, API token) or email address.
    actor: Option<String>,
    /// `source`, `destination`, `connection`, `workspace`, `member`, `invite`, `api_token`, `data_plane_token`.
    resource_type: Option<String>,
    resource_id: Option<String>,
    /// An action (`source.updated`), or all of a resource type's (`source.*`).
    action: Option<String>,
    /// RFC 3339, inclusive.
    from: Option<String>,
    /// RFC 3339, exclusive.
    to: Option<String>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Entries per page, 1 to 200 (50 unless given).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// The workspace's audit log, newest first (admin): who changed what, when, from where. Secrets appear as
/// `"[secret]"`.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/audit-log", tag = "workspaces",
    params(("ws" = String, Path), AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn audit_log(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let filter = Filter {
        actor: query.actor,
        resource_type: query.resource_type,
        resource_id: query.resource_id,
        action: query.action,
        from: query.from,
        to: query.to,
        cursor: query.cursor,
        limit: query.limit,
    };
    Ok(Json(
        super::list(&state.db, &principal.actor, &ws, filter).await?,
    ))
}
