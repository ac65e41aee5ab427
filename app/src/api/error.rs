use serde::{Deserialize, Serialize};

/// Body of every 4xx/5xx answer of `/api/v1`: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`, `unauthorized`.
    pub code: String,
    /// Sentence for people.
    pub message: String,
    /// The request field that is wrong, as a dotted path (`config.apiKey`), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// With `code` `stale_revision`: the revision that is stored now (reload to see what changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<String>,
}

/// What the typed client returns when a call fails: the HTTP status and the server's error detail
/// (or a transport failure, status 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    pub current_revision: Option<String>,
}

impl ApiError {
    pub fn transport(message: impl Into<String>) -> Self {
        Self {
            status: 0,
            code: "network_error".into(),
            message: message.into(),
            field: None,
            current_revision: None,
        }
    }

    /// Someone else changed the resource since it was read (a PATCH sent with its revision).
    pub fn is_stale(&self) -> bool {
        self.status == 409 && self.code == "stale_revision"
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }

    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    /// The message to show beside the form field `field`, when the error names it. The API's messages start
    /// with the field's path (`config.apiKey is required`); beside the field that path is left out.
    pub fn field_error(&self, field: &str) -> Option<String> {
        if self.field.as_deref() != Some(field) {
            return None;
        }
        let rest = self
            .message
            .strip_prefix(field)
            .map(str::trim_start)
            .unwrap_or(&self.message);
        Some(match rest {
            "is required" => "Required.".to_string(),
            _ => {
                let mut chars = rest.chars();
                let first = chars
                    .next()
                    .map(|c| c.to_uppercase().collect::<String>())
                    .unwrap_or_default();
                let sentence = first + chars.as_str();
                if sentence.ends_with('.') {
                    sentence
                } else {
                    sentence + "."
                }
            }
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(field: &str, message: &str) -> ApiError {
        ApiError {
            status: 422,
            code: "validation_failed".into(),
            message: message.into(),
            field: Some(field.into()),
            current_revision: None,
        }
    }

    #[test]
    fn beside_its_field_a_message_reads_as_a_sentence() {
        assert_eq!(
            error("config.apiKey", "config.apiKey is required")
                .field_error("config.apiKey")
                .as_deref(),
            Some("Required.")
        );
        assert_eq!(
            error(
                "newPassword",
                "newPassword must be at least 10 characters long"
            )
            .field_error("newPassword")
            .as_deref(),
            Some("Must be at least 10 characters long.")
        );
        assert_eq!(
            error("email", "an account with this email exists")
                .field_error("email")
                .as_deref(),
            Some("An account with this email exists.")
        );
        assert_eq!(error("email", "x").field_error("name"), None);
    }
}
