//! One module per area of the UI.

pub mod audit;
pub mod auth;
pub mod destinations;
pub mod home;
pub mod instance;
pub mod overview;
pub mod settings;
pub mod sources;

/// Asks the person to confirm a destructive action (always false while rendering on the server).
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(message).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

/// A `?next=` target, only when it is a path on this site (no open redirect).
pub fn safe_next(next: Option<String>) -> String {
    match next {
        Some(path)
            if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") =>
        {
            path
        }
        _ => "/".to_string(),
    }
}

/// Full page load (after sign-in and sign-out, so that every cached view starts fresh).
pub fn go(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_only_goes_to_local_paths() {
        assert_eq!(safe_next(Some("/w/abc".into())), "/w/abc");
        assert_eq!(safe_next(Some("//evil.example".into())), "/");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(safe_next(None), "/");
    }
}
