//! One module per area of the UI.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod consent;
pub mod data_planes;
pub mod destination_consent;
pub mod destinations;
pub mod home;
pub mod instance;
pub mod live;
pub mod overview;
pub mod settings;
pub mod source_tracking_plan;
pub mod sources;
pub mod tracking_plans;
pub mod volume;
pub mod warehouse;

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

/// A `?next=` target, only when it is a path on this site (no open redirect): it starts with one `/`, and
/// holds no backslash, no control character, and no percent-encoded one of those, since browsers drop tabs
/// and newlines from URLs and read `\` as `/` (so `/\t/evil.example` and `/\\evil.example` would lead to
/// another host).
pub fn safe_next(next: Option<String>) -> String {
    let Some(path) = next else {
        return "/".to_string();
    };
    let decoded = percent_decoded(&path);
    let local = |p: &str| {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.chars().any(|c| c == '\\' || c.is_control())
    };
    if local(&path) && local(&decoded) {
        path
    } else {
        "/".to_string()
    }
}

/// `%XX` sequences decoded (as Latin-1 for anything that is not valid UTF-8: only control characters and
/// backslashes matter here).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out.clone()).unwrap_or_else(|_| out.into_iter().map(char::from).collect())
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
        assert_eq!(
            safe_next(Some("/w/abc/sources?x=1%202".into())),
            "/w/abc/sources?x=1%202"
        );
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/%5Cevil.example",
            "/%2F/evil.example",
            "/\n/evil.example",
            "/%0a/evil.example",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(evil.into())), "/", "{evil:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
