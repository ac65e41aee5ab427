//! Building blocks shared by the pages.

pub mod feedback;
pub mod forms;
pub mod layout;
pub mod schema_form;

pub use feedback::{provide_toast, use_toast, ApiErrorAlert, Loading, Toast};
pub use forms::{CopyField, FieldError, ShownOnce, TextField};
