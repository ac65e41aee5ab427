//! Building blocks shared by the pages.

pub mod catalog;
pub mod chart;
pub mod connections;
pub mod feedback;
pub mod forms;
pub mod layout;
pub mod schema_form;

pub use catalog::{CatalogPicker, Tile};
pub use connections::ConnectionsCard;
pub use feedback::{
    provide_toast, report, use_browser_origin, use_toast, ApiErrorAlert, Loading, Toast,
};
pub use forms::{CopyButton, CopyField, FieldError, ShownOnce, TextField};
