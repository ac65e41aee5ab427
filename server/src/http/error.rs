//! The HTTP answer to a failure: the one place where domain errors become status codes and the
//! `{"error": {…}}` body. Handlers return `ApiResult`; any domain error converts with `?`.

use app::api::{ErrorBody, ErrorDetail};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::{DomainError, Kind};

pub type ApiResult<T> = Result<T, AppError>;

/// A failure on its way out over HTTP.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    retry_after_secs: Option<u64>,
    current_revision: Option<String>,
}

impl<E: DomainError> From<E> for AppError {
    fn from(error: E) -> AppError {
        let kind = error.kind();
        let (status, code) = match kind {
            Kind::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Kind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Kind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Kind::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Kind::Conflict => (StatusCode::CONFLICT, "conflict"),
            Kind::Stale => (StatusCode::CONFLICT, "stale_revision"),
            Kind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Kind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Kind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        };
        let message = match kind {
            // The detail goes to the log, never to the client.
            Kind::Internal => {
                tracing::error!(error = %error, "request failed");
                INTERNAL_MESSAGE.to_string()
            }
            Kind::Unavailable => {
                tracing::error!(error = %error, "a dependency is unavailable");
                "The database is unavailable; try again shortly.".to_string()
            }
            _ => error.to_string(),
        };
        AppError {
            status,
            code,
            message,
            field: error.field().map(str::to_string),
            retry_after_secs: error.retry_after_secs(),
            current_revision: error.current_revision().map(str::to_string),
        }
    }
}

const INTERNAL_MESSAGE: &str = "Something went wrong on our side. It has been logged.";

impl AppError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
            current_revision: None,
        }
    }

    /// 400: the request cannot be read (malformed JSON, an unreadable query string…).
    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 naming the part of the request that cannot be read.
    pub fn bad_request_at(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError {
            field: Some(field.into()),
            ..AppError::bad_request(message)
        }
    }

    /// 401: no valid credential.
    pub fn unauthorized(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 for what the HTTP layer itself decides (a request's origin).
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404
    pub fn not_found(what: &str) -> AppError {
        AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 413
    pub fn payload_too_large(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 415
    pub fn unsupported_media_type(message: impl Into<String>) -> AppError {
        AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 422 naming the field, for what the HTTP layer itself parses (query strings, headers).
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError {
            field: Some(field.into()),
            ..AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            )
        }
    }

    /// 500: a bug in the HTTP layer (a session that cannot be read…). The detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> AppError {
        tracing::error!(error = %detail, "request failed");
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            INTERNAL_MESSAGE,
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: self.code.into(),
                    message: self.message,
                    field: self.field,
                    current_revision: self.current_revision.clone(),
                },
            }),
        )
            .into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if let Some(revision) = self.current_revision {
            if let Ok(etag) = axum::http::HeaderValue::from_str(&format!("\"{revision}\"")) {
                response
                    .headers_mut()
                    .insert(axum::http::header::ETAG, etag);
            }
        }
        response
    }
}

/// Renders a status and message as the standard error body, for the layers (body limit, timeouts,
/// unknown routes) that fail before a handler runs.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
                field: None,
                current_revision: None,
            },
        }),
    )
        .into_response()
}
