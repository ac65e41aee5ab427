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
pub mod destinations;
pub mod error;
pub mod jobs;
pub mod namespaces;
pub mod sources;
pub mod tokens;
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
