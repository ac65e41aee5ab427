//! Wire types of `/api/v1` (plain serde data, shared by the server's handlers and the UI) and the typed
//! client the UI calls them with.

/// `Debug` for a wire type that carries a password, a token or a secret: the fields named after the `;` print
/// as `[redacted]`, so that a `{:?}` in a log line or a panic message never shows one.
macro_rules! debug_without_secrets {
    ($ty:ident { $($shown:ident),* ; $($secret:ident),+ }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($secret), &$crate::api::Redacted))+
                    .finish()
            }
        }
    };
}

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod client;
pub mod consent;
pub mod destinations;
pub mod error;
pub mod jobs;
pub mod live;
pub mod namespaces;
pub mod sources;
pub mod tokens;
pub mod tracking_plans;
pub mod volume;
pub mod warehouses;
pub mod workspaces;

pub use client::{use_api, Api};
pub use error::{ApiError, ErrorBody, ErrorDetail};

/// What `Debug` prints in place of a secret.
pub struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::auth::{LoginRequest, PasswordResetConfirm, SetupRequest};
    use super::namespaces::{Namespace, NamespaceWithSecret};
    use super::sources::UpdateSource;
    use super::tokens::CreatedToken;
    use super::workspaces::AcceptInvite;

    #[test]
    fn debug_never_prints_a_password_a_token_or_a_secret() {
        let secret = "hunter2-canary";
        let printed = [
            format!(
                "{:?}",
                LoginRequest {
                    email: "ada@example.com".into(),
                    password: secret.into()
                }
            ),
            format!(
                "{:?}",
                PasswordResetConfirm {
                    token: secret.into(),
                    new_password: secret.into()
                }
            ),
            format!(
                "{:?}",
                SetupRequest {
                    token: secret.into(),
                    email: "ada@example.com".into(),
                    name: "Ada".into(),
                    password: secret.into(),
                    workspace_name: "Acme".into()
                }
            ),
            format!(
                "{:?}",
                AcceptInvite {
                    token: secret.into(),
                    name: None,
                    password: Some(secret.into())
                }
            ),
            format!(
                "{:?}",
                CreatedToken {
                    id: "t1".into(),
                    token: secret.into()
                }
            ),
            format!(
                "{:?}",
                NamespaceWithSecret {
                    namespace: Namespace {
                        id: "n".into(),
                        name: "eu".into(),
                        workspace_ids: vec![],
                        secret_prefix: "whk_ns_abc".into(),
                        created_at: String::new(),
                        updated_at: String::new(),
                    },
                    secret: secret.into()
                }
            ),
            format!(
                "{:?}",
                UpdateSource {
                    config: Some(serde_json::json!({"apiSecret": secret})),
                    ..Default::default()
                }
            ),
        ];
        for text in printed {
            assert!(!text.contains(secret), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
    }
}
