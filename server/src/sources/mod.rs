//! Sources: where events come from (SDKs, webhooks, cloud apps, warehouse tables for reverse ETL).

mod handlers;

pub use handlers::routes;

pub const RESOURCE_TYPE: &str = "source";
pub const NAME_MAX: usize = 100;
