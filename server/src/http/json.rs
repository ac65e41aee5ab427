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
            return Err(AppError::unsupported_media_type(
                "send the body as JSON, with the header Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::payload_too_large(format!(
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
    // First the syntax, on its own: only a body that is not one JSON value (malformed, truncated, trailing
    // garbage, nested too deep) is a 400. Whatever fails after that is a field of the wrong shape: a 422
    // naming it (serde_json reports some of those, e.g. a number where an enum's string belongs, as syntax).
    if std::str::from_utf8(bytes).is_err() {
        return Err(AppError::bad_request(
            "the body is not valid JSON: it is not UTF-8",
        ));
    }
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(AppError::bad_request(format!(
            "the body is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        )));
    }
    // Every body is an object: serde would also read a struct from an array of its fields in order, so
    // `[null, null]` would be a valid (empty) change.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AppError::validation(
            "body",
            "the body must be a JSON object",
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        // `headers[0].to` → `headers.0.to`: the dotted form the schema errors (and the UI's forms) use.
        let path = error.path().to_string().replace('[', ".").replace(']', "");
        data_error(
            path.trim_start_matches('.'),
            &error.into_inner().to_string(),
        )
    })?;
    reject_nul(bytes)?;
    Ok(value)
}

/// No text value may hold a NUL character: PostgreSQL cannot store one, so it would otherwise fail (as a 500)
/// or behave differently on the two databases.
fn reject_nul(bytes: &[u8]) -> Result<(), AppError> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    fn find(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("{}{i}", if path.is_empty() { "" } else { "." }));
                let found = find(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let found = key.contains('\0') || find(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| AppError::bad_request("the body is not valid JSON"))?;
    let mut path = String::new();
    if find(&value, &mut path) {
        let field = if path.is_empty() {
            "body".to_string()
        } else {
            path
        };
        return Err(AppError::validation(
            &field,
            format!("{field} must not contain a NUL character"),
        ));
    }
    Ok(())
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

/// axum's `Query<T>` with our error body: a missing parameter is a 422 naming it, an unreadable query string
/// a 400. Like the JSON errors, messages never repeat a submitted value.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, AppError> {
        match axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let named = |prefix: &str| {
                    text.split(prefix)
                        .nth(1)
                        .and_then(|rest| rest.split('`').next())
                        .map(str::to_string)
                };
                Err(if let Some(field) = named("missing field `") {
                    AppError::validation(&field, format!("the query parameter {field} is required"))
                } else if let Some(field) = named("duplicate field `") {
                    AppError::bad_request_at(
                        field.clone(),
                        format!("the query parameter {field} is given more than once"),
                    )
                } else {
                    AppError::bad_request("the query string is not valid")
                })
            }
        }
    }
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
        assert_eq!(error.status(), 422, "{error:?}");
        (
            error.field().map(str::to_string),
            error.message().to_string(),
        )
    }

    fn is_bad_request(error: AppError) -> bool {
        error.status() == 400
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
    fn trailing_garbage_and_deep_nesting_are_400s() {
        for body in [
            &br#"{"name": "x", "workspaceId": "w"} x"#[..],
            &[b'['; 1000][..],
        ] {
            assert!(is_bad_request(parse::<Body>(body).unwrap_err()));
        }
    }

    #[test]
    fn a_mistyped_enum_is_a_422_naming_it() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        enum Role {
            Viewer,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct WithRole {
            role: Role,
        }
        let (field, _) = field_and_message(parse::<WithRole>(br#"{"role": 3}"#).unwrap_err());
        assert_eq!(field.as_deref(), Some("role"));
    }

    #[test]
    fn a_nul_character_is_a_422_naming_the_field() {
        let (field, _) = field_and_message(
            parse::<serde_json::Value>(br#"{"config": {"headers": [{"to": "a\u0000b"}]}}"#)
                .unwrap_err(),
        );
        assert_eq!(field.as_deref(), Some("config.headers.0.to"));
        // An escaped backslash followed by "u0000" is not a NUL.
        assert!(parse::<serde_json::Value>(br#"{"to": "a\\u0000b"}"#).is_ok());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_422() {
        for body in [
            &br#"["x", "w"]"#[..],
            b" [null, null]",
            b"null",
            b"\"x\"",
            b"5",
        ] {
            let (field, _) = field_and_message(parse::<Body>(body).unwrap_err());
            assert_eq!(field.as_deref(), Some("body"));
        }
        assert!(parse::<Body>(br#" {"name": "x", "workspaceId": "w"}"#).is_ok());
    }

    #[test]
    fn malformed_json_is_a_400() {
        assert!(is_bad_request(parse::<Body>(b"{\"name\": ").unwrap_err()));
    }
}
