//! Destinations: where events go (analytics and ad tools, streams, storage, warehouses), with their
//! credentials encrypted.

mod handlers;

pub use handlers::routes;

pub const RESOURCE_TYPE: &str = "destination";
pub const NAME_MAX: usize = 100;
