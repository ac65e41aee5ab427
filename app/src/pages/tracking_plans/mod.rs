//! Tracking plans: the list (`/w/:ws/tracking-plans`) and a plan's page (`/w/:ws/tracking-plans/:tp`) with its
//! draft's event editor, its versions and their diffs, and the checks against real traffic. Both are lazy
//! routes: their code is a wasm chunk of its own, fetched when a tracking-plan page is first shown.
//!
//! - `list`: the plans, a new plan, a plan learned from live traffic;
//! - `plan`: a plan's page, its header and tabs;
//! - `event_editor`: an event's form and raw JSON Schema; `schema_model`: the form's model of a schema;
//! - `diff`: versions and what changed between them;
//! - `preview`, `impact`, `violations`: one event checked, the plan run over captured events, violations
//!   reported by data planes.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

pub mod diff;
pub mod event_editor;
pub mod impact;
pub mod list;
pub mod plan;
pub mod preview;
pub mod schema_model;
pub mod violations;

/// `/w/:ws/tracking-plans`, loaded lazily.
pub struct TrackingPlansRoute;

#[lazy_route]
impl LazyRoute for TrackingPlansRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <list::PlansList/> }.into_any()
    }
}

/// `/w/:ws/tracking-plans/:tp`, loaded lazily.
pub struct TrackingPlanRoute;

#[lazy_route]
impl LazyRoute for TrackingPlanRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <plan::PlanPage/> }.into_any()
    }
}
