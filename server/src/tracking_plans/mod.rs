//! Tracking plans: what events must look like (`../shared/reference/rudderstack-protocol.md` §3).
//!
//! A plan is edited as a draft (`plans`) and published as immutable versions, because rudder-transformer
//! caches `id::version` forever. Sources are linked to one version with the settings rudder-server and the
//! transformer read (`links`, served as `dgSourceTrackingPlanConfig` by `config_api::assemble`); the
//! transformer fetches the version itself (`handlers::transformer_plan`). Validation classifies violations as
//! the transformer does (`validation`, with compiled versions cached in `cache`); a draft can be learnt from
//! captured traffic (`infer`) and tried against it before publishing (`impact`); what the data planes then
//! report is counted per source and version (`counts`).

pub mod cache;
pub mod counts;
pub mod diff;
pub mod handlers;
pub mod impact;
pub mod infer;
pub mod links;
pub mod plans;
pub mod traffic;
pub mod validation;

pub use handlers::{api_routes, data_plane_routes};

use crate::access::AccessError;
use crate::error::{DbError, DomainError, Invalid, Kind};

#[derive(Debug, thiserror::Error)]
pub enum TrackingPlanError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a tracking plan named {0:?} already exists in this workspace")]
    DuplicateName(String),
    #[error("this tracking plan was changed by someone else since it was read (its revision is now {current}); reload it and make your change again")]
    Stale { current: String },
    #[error(transparent)]
    Db(#[from] DbError),
    /// A background computation that did not finish (a panic in it): a bug, logged, never shown.
    #[error("{0}")]
    Internal(String),
}

crate::error::db_variant_from_sqlx!(TrackingPlanError);

impl DomainError for TrackingPlanError {
    fn kind(&self) -> Kind {
        match self {
            TrackingPlanError::Access(e) => e.kind(),
            TrackingPlanError::Invalid(e) => e.kind(),
            TrackingPlanError::NotFound(_) => Kind::NotFound,
            TrackingPlanError::DuplicateName(_) => Kind::Conflict,
            TrackingPlanError::Stale { .. } => Kind::Stale,
            TrackingPlanError::Db(e) => e.kind(),
            TrackingPlanError::Internal(_) => Kind::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            TrackingPlanError::Invalid(e) => e.field(),
            TrackingPlanError::DuplicateName(_) => Some("name"),
            _ => None,
        }
    }

    fn current_revision(&self) -> Option<&str> {
        match self {
            TrackingPlanError::Stale { current } => Some(current),
            _ => None,
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> TrackingPlanError {
    TrackingPlanError::Invalid(Invalid::new(field, message))
}
