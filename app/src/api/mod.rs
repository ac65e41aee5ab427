//! Wire types of `/api/v1` (plain serde data, shared by the server's handlers and the UI) and the typed
//! client the UI calls them with.

pub mod auth;
pub mod catalog;
pub mod client;
pub mod destinations;
pub mod error;
pub mod namespaces;
pub mod sources;
pub mod tokens;
pub mod workspaces;

pub use client::{use_api, Api};
pub use error::{ApiError, ErrorBody, ErrorDetail};
