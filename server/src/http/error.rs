//! The one error type of the HTTP layer, mapped once to a status and the `{"error": {…}}` body.

use app::api::{ErrorBody, ErrorDetail};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub type ApiResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request cannot be read (malformed JSON, bad query string…).
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    /// 401: no valid session or token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: signed in, a member, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: it does not exist, or the caller may not know it does.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with what is stored (a duplicate name, a connection that exists…).
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<String>,
    },
    /// 413: the body is larger than the server accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed but invalid: names the field.
    #[error("{message}")]
    Validation {
        message: String,
        field: Option<String>,
    },
    /// 429: too many failed sign-ins.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 500: a bug or an outage. The detail goes to the log, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
    /// 503: a dependency (the database) is unavailable.
    #[error("{0}")]
    Unavailable(String),
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest {
            message: message.into(),
            field: None,
        }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        AppError::Internal(error.to_string())
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Option<String>) {
        match self {
            AppError::BadRequest { message, field } => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                message.clone(),
                field.clone(),
            ),
            AppError::Unauthorized(m) => {
                (StatusCode::UNAUTHORIZED, "unauthorized", m.clone(), None)
            }
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone(), None),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone(), None),
            AppError::Conflict { message, field } => (
                StatusCode::CONFLICT,
                "conflict",
                message.clone(),
                field.clone(),
            ),
            AppError::PayloadTooLarge(m) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                m.clone(),
                None,
            ),
            AppError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                m.clone(),
                None,
            ),
            AppError::Validation { message, field } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message.clone(),
                field.clone(),
            ),
            AppError::TooManyRequests { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                message.clone(),
                None,
            ),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Something went wrong on our side. It has been logged.".into(),
                None,
            ),
            AppError::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                m.clone(),
                None,
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let (status, code, message, field) = self.parts();
        let mut response = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: code.into(),
                    message,
                    field,
                },
            }),
        )
            .into_response();
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::error!(%error, "database unavailable");
                AppError::Unavailable("The database is unavailable; try again shortly.".into())
            }
            _ => AppError::Internal(format!("database: {error}")),
        }
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
            },
        }),
    )
        .into_response()
}
