use app::api::consent::{ConsentSettings, ConsentSimulation, DestinationConsent, SimulationResult};
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
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(simulate))
        .routes(routes!(get_destination_consent, put_destination_consent))
}

/// The workspace's consent managers and their categories (purposes).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/consent", tag = "consent", params(("ws" = String, Path)),
    responses((status = 200, body = ConsentSettings), (status = 404, body = ErrorBody)))]
async fn get_settings(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<ConsentSettings>> {
    Ok(Json(super::settings(&state, &principal.actor, &ws).await?))
}

/// Replace the workspace's consent managers and their categories (editor). `provider` is `oneTrust`,
/// `ketch`, `iubenda` or `custom`, each listed once; category ids are what the consent manager reports
/// (OneTrust's `C0002`). A provider or category that a destination still requires cannot be removed (422,
/// naming the destination and the consent).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/consent", tag = "consent", params(("ws" = String, Path)),
    request_body = ConsentSettings,
    responses((status = 200, body = ConsentSettings), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody,
            description = "A destination started requiring a removed consent meanwhile"),
        (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<ConsentSettings>,
) -> ApiResult<Json<ConsentSettings>> {
    Ok(Json(
        super::update_settings(&state, &principal.actor, &ws, body).await?,
    ))
}

/// Which destinations an event with these consents would reach, per source, and why not: cloud-mode
/// destinations by rudder-server's rules (it only reads denied consents), device-mode ones by the
/// JavaScript SDK's (it only reads allowed ones), hybrid ones by both. No `sourceIds`: every source.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/consent/simulate", tag = "consent",
    params(("ws" = String, Path)), request_body = ConsentSimulation,
    responses((status = 200, body = SimulationResult), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn simulate(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<ConsentSimulation>,
) -> ApiResult<Json<SimulationResult>> {
    Ok(Json(
        super::simulate(&state, &principal.actor, &ws, body).await?,
    ))
}

/// The consents a destination requires, per consent manager of the workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations/{id}/consent", tag = "consent",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = DestinationConsent), (status = 404, body = ErrorBody)))]
async fn get_destination_consent(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<DestinationConsent>> {
    Ok(Json(
        super::destination_consent(&state, &principal.actor, &ws, &id).await?,
    ))
}

/// Replace the consents a destination requires (editor). Each provider must be one of the workspace's, each
/// consent one of its categories there; `resolutionStrategy` (`and`: every consent, `or`: any one) is for
/// `custom`, where it is required. The destination is then served with `consentManagement` (and
/// `oneTrustCookieCategories`, `ketchConsentPurposes`), replacing what its config has for them; an empty
/// list leaves them to its config again.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/destinations/{id}/consent", tag = "consent",
    params(("ws" = String, Path), ("id" = String, Path)), request_body = DestinationConsent,
    responses((status = 200, body = DestinationConsent), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody,
            description = "The workspace removed one of these consents meanwhile"),
        (status = 422, body = ErrorBody)))]
async fn put_destination_consent(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<DestinationConsent>,
) -> ApiResult<Json<DestinationConsent>> {
    Ok(Json(
        super::update_destination_consent(&state, &principal.actor, &ws, &id, body).await?,
    ))
}
