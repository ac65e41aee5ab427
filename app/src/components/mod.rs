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

/// Whether the page is hydrated: always false while rendering on the server and during hydration, true once
/// the browser runs the page. Views inside another resource's `Suspend` (a tracking plan's tabs, the account
/// page's notification settings) read their data only then, in the browser (`LocalResource`): resources of
/// their own would not line up between the server's render and the browser's hydration.
pub fn use_hydrated() -> leptos::prelude::ReadSignal<bool> {
    use leptos::prelude::{signal, Effect, Set};
    let (hydrated, set) = signal(false);
    // Effects run in the browser only, after hydration.
    Effect::new(move |_| set.set(true));
    hydrated
}
