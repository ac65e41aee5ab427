//! API tokens (for scripts and tools: `Authorization: Bearer` on `/api/v1`) and data-plane tokens (what a
//! rudder-server uses as its `WORKSPACE_TOKEN`). Both are random, shown once, stored as a SHA-256 hash.

mod handlers;

pub use handlers::routes;

pub const API_TOKEN_KIND: &str = "whk_api";
pub const DATA_PLANE_TOKEN_KIND: &str = "whk_dp";
pub const NAME_MAX: usize = 100;
