//! Revisions over HTTP: a configurable resource is served with its revision as a strong `ETag`, and a change
//! names the revision it was made on with `If-Match` (or `revision` in the body), so that a change made by
//! someone else meanwhile is a 409 instead of being silently undone.

use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::error::AppError;

/// The revision `If-Match` names: `None` without the header, or with `*` (any revision will do).
pub struct IfMatch(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let mut values = parts.headers.get_all(IF_MATCH).iter();
        let Some(value) = values.next() else {
            return Ok(IfMatch(None));
        };
        let unusable = || {
            AppError::bad_request_at(
                "If-Match",
                "If-Match must be one revision as a quoted entity tag (the ETag you got), or *",
            )
        };
        if values.next().is_some() {
            return Err(unusable());
        }
        let value = value.to_str().map_err(|_| unusable())?.trim();
        if value == "*" {
            return Ok(IfMatch(None));
        }
        // Strong comparison (RFC 9110 §13.1.1): a weak tag never matches, so it is refused, not ignored.
        let revision = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|r| !r.is_empty() && !r.contains('"'))
            .ok_or_else(unusable)?;
        Ok(IfMatch(Some(revision.to_string())))
    }
}

impl IfMatch {
    /// The revision a change is based on: the header's, or the body's, which must agree when both are given.
    pub fn or_body(self, body: Option<String>) -> Result<Option<String>, AppError> {
        match (self.0, body) {
            (Some(header), Some(body)) if header != body => Err(AppError::validation(
                "revision",
                "revision differs from the If-Match header; send one of them",
            )),
            (header, body) => Ok(header.or(body)),
        }
    }
}

/// A JSON answer with the resource's revision as its `ETag`.
pub fn with_etag<T: Serialize>(
    status: axum::http::StatusCode,
    body: T,
    revision: &str,
) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}
