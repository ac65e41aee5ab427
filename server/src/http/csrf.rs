//! CSRF protection for cookie-authenticated requests: a state-changing request is accepted only from our
//! own origin, judged by `Sec-Fetch-Site` (every current browser sends it) or else `Origin`. A request with
//! a Bearer token carries no ambient credential and is not checked. A state-changing request that carries
//! our session cookie but neither header (not a browser, or a very old one) is refused.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error::error_response;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "wheelhouse_session";

pub async fn same_origin_only(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_safe(request.method()) || request.headers().contains_key(AUTHORIZATION) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let verdict = same_origin(headers, &state.public_url);
    let has_session_cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(';').any(|c| c.trim().starts_with(SESSION_COOKIE)));
    match verdict {
        Some(true) => next.run(request).await,
        Some(false) => error_response(
            StatusCode::FORBIDDEN,
            "cross_origin_request",
            "cross-origin requests may not change anything here; use an API token from other sites",
        ),
        None if has_session_cookie => error_response(
            StatusCode::FORBIDDEN,
            "missing_origin",
            "a cookie-authenticated request that changes something must carry an Origin header",
        ),
        None => next.run(request).await,
    }
}

/// Whether the browser says the request comes from our own origin (`Sec-Fetch-Site`, else `Origin`); `None`
/// when it says neither (not a browser).
pub fn same_origin(headers: &axum::http::HeaderMap, public_url: &url::Url) -> Option<bool> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site == "same-origin")
    } else if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(HOST).and_then(|v| v.to_str().ok());
        Some(origin_matches(origin, host, public_url))
    } else {
        None
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn origin_matches(origin: &str, host: Option<&str>, public_url: &url::Url) -> bool {
    if origin == public_url.origin().ascii_serialization() {
        return true;
    }
    // Also accept the origin the browser used to reach this very server (e.g. 127.0.0.1 vs localhost).
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    let Some(host) = host else { return false };
    let origin_host = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return false,
    };
    origin_host.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_the_public_url_or_the_host() {
        let public = url::Url::parse("https://wheelhouse.example.com").unwrap();
        assert!(origin_matches(
            "https://wheelhouse.example.com",
            None,
            &public
        ));
        assert!(origin_matches(
            "http://127.0.0.1:3000",
            Some("127.0.0.1:3000"),
            &public
        ));
        assert!(!origin_matches(
            "https://evil.example",
            Some("127.0.0.1:3000"),
            &public
        ));
        assert!(!origin_matches("null", Some("127.0.0.1:3000"), &public));
    }
}
