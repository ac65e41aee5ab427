//! `ApiJson<T>`: axum's JSON extractor with our error body. Malformed JSON is a 400; a missing or
//! mistyped field is a 422 naming it; a body over the limit is a 413; another content type is a 415.
//! Messages never repeat submitted values: a value may be a password or a secret.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::AppError;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::UnsupportedMediaType(
                "send the body as JSON, with the header Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(format!(
                    "the request body is larger than {} KiB",
                    MAX_BODY_BYTES / 1024
                ))
            } else {
                AppError::bad_request("the request body could not be read")
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => AppError::BadRequest {
                message: format!(
                    "the body is not valid JSON (line {}, column {})",
                    inner.line(),
                    inner.column()
                ),
                field: None,
            },
            Category::Data => data_error(&path, &inner.to_string()),
        }
    })
}

/// Turns serde's message into one that names the field and does not quote the value.
fn data_error(path: &str, message: &str) -> AppError {
    let path = if path == "." { "" } else { path };
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    // serde appends " at line L column C"
    let message = message.split(" at line ").next().unwrap_or(message);
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = join(rest.trim_end_matches('`'));
        return AppError::validation(&field, format!("{field} is required"));
    }
    let field = if path.is_empty() {
        "body".to_string()
    } else {
        path.to_string()
    };
    let expected = message.split(", expected ").nth(1);
    let detail = if message.starts_with("unknown variant") {
        match expected {
            Some(expected) => format!("must be {expected}"),
            None => "has a value that is not allowed".into(),
        }
    } else if let Some(expected) = expected {
        format!("must be {expected}")
    } else {
        "has an invalid value".into()
    };
    AppError::validation(&field, format!("{field} {detail}"))
}

/// JSON response helper with a status.
pub fn created<T: Serialize>(value: T) -> Response {
    (axum::http::StatusCode::CREATED, axum::Json(value)).into_response()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        name: String,
        workspace_id: String,
        count: Option<u32>,
    }

    fn field_and_message(error: AppError) -> (Option<String>, String) {
        match error {
            AppError::Validation { field, message } => (field, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_field_is_named() {
        let (field, message) = field_and_message(parse::<Body>(br#"{"name": "x"}"#).unwrap_err());
        assert_eq!(field.as_deref(), Some("workspaceId"));
        assert_eq!(message, "workspaceId is required");
    }

    #[test]
    fn a_mistyped_field_is_named_without_its_value() {
        let (field, message) = field_and_message(
            parse::<Body>(br#"{"name": "hunter2secret", "workspaceId": 5}"#).unwrap_err(),
        );
        assert_eq!(field.as_deref(), Some("workspaceId"));
        assert!(!message.contains('5'), "{message}");
        let (field, message) = field_and_message(
            parse::<Body>(br#"{"name": "x", "workspaceId": "w", "count": "hunter2"}"#).unwrap_err(),
        );
        assert_eq!(field.as_deref(), Some("count"));
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn malformed_json_is_a_400() {
        assert!(matches!(
            parse::<Body>(b"{\"name\": ").unwrap_err(),
            AppError::BadRequest { .. }
        ));
    }
}
