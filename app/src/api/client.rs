//! The one typed client of `/api/v1`. In the browser it uses `fetch`; during server-side rendering it calls
//! the axum router in-process (no network hop), forwarding the visitor's cookie, so that SSR and the
//! browser see the same authorization decisions.

use std::future::Future;

use serde::{de::DeserializeOwned, Serialize};

use super::error::{ApiError, ErrorBody};

/// What the server puts into each SSR request's context so that pages can call the API in-process.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub struct InProcessApi {
    pub router: axum::Router,
}

#[derive(Clone)]
pub struct Api {
    #[cfg(feature = "ssr")]
    in_process: Option<(axum::Router, Option<http::HeaderValue>)>,
}

/// The API client for the current page. Call it in a component body (it reads the render context),
/// then move it into async blocks.
pub fn use_api() -> Api {
    #[cfg(feature = "ssr")]
    {
        use leptos::prelude::use_context;
        // The visitor's cookie, so that the API decides exactly as it would for the browser.
        let cookie = use_context::<http::request::Parts>()
            .and_then(|parts| parts.headers.get(http::header::COOKIE).cloned());
        Api {
            in_process: use_context::<InProcessApi>().map(|api| (api.router, cookie)),
        }
    }
    #[cfg(not(feature = "ssr"))]
    {
        Api {}
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

impl Api {
    pub fn get<T: DeserializeOwned + 'static>(
        &self,
        path: impl Into<String>,
    ) -> impl Future<Output = Result<T, ApiError>> + Send + 'static {
        let call = self.call(Method::Get, path.into(), None);
        async move { decode(call.await?) }
    }

    /// A GET whose 404 is an answer (`None`), not an error.
    pub fn get_optional<T: DeserializeOwned + 'static>(
        &self,
        path: impl Into<String>,
    ) -> impl Future<Output = Result<Option<T>, ApiError>> + Send + 'static {
        let get = self.get::<T>(path);
        async move {
            match get.await {
                Ok(value) => Ok(Some(value)),
                Err(error) if error.is_not_found() => Ok(None),
                Err(error) => Err(error),
            }
        }
    }

    pub fn post<B: Serialize, T: DeserializeOwned + 'static>(
        &self,
        path: impl Into<String>,
        body: &B,
    ) -> impl Future<Output = Result<T, ApiError>> + Send + 'static {
        let call = self.call(Method::Post, path.into(), Some(encode(body)));
        async move { decode(call.await?) }
    }

    /// A POST whose answer has no body (204).
    pub fn post_no_content<B: Serialize>(
        &self,
        path: impl Into<String>,
        body: &B,
    ) -> impl Future<Output = Result<(), ApiError>> + Send + 'static {
        let call = self.call(Method::Post, path.into(), Some(encode(body)));
        async move { call.await.map(|_| ()) }
    }

    pub fn patch<B: Serialize, T: DeserializeOwned + 'static>(
        &self,
        path: impl Into<String>,
        body: &B,
    ) -> impl Future<Output = Result<T, ApiError>> + Send + 'static {
        let call = self.call(Method::Patch, path.into(), Some(encode(body)));
        async move { decode(call.await?) }
    }

    pub fn put<B: Serialize, T: DeserializeOwned + 'static>(
        &self,
        path: impl Into<String>,
        body: &B,
    ) -> impl Future<Output = Result<T, ApiError>> + Send + 'static {
        let call = self.call(Method::Put, path.into(), Some(encode(body)));
        async move { decode(call.await?) }
    }

    pub fn delete(
        &self,
        path: impl Into<String>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send + 'static {
        let call = self.call(Method::Delete, path.into(), None);
        async move { call.await.map(|_| ()) }
    }

    #[cfg(feature = "ssr")]
    fn call(
        &self,
        method: Method,
        path: String,
        body: Option<String>,
    ) -> impl Future<Output = Result<String, ApiError>> + Send + 'static {
        use tower::ServiceExt;
        let in_process = self.in_process.clone();
        async move {
            let Some((router, cookie)) = in_process else {
                return Err(ApiError::transport(
                    "the API is not reachable while rendering this page",
                ));
            };
            let method = match method {
                Method::Get => http::Method::GET,
                Method::Post => http::Method::POST,
                Method::Patch => http::Method::PATCH,
                Method::Put => http::Method::PUT,
                Method::Delete => http::Method::DELETE,
            };
            let mut request = http::Request::builder().method(method).uri(&path);
            if let Some(cookie) = cookie {
                request = request.header(http::header::COOKIE, cookie);
            }
            if body.is_some() {
                request = request.header(http::header::CONTENT_TYPE, "application/json");
            }
            let request = request
                .body(axum::body::Body::from(body.unwrap_or_default()))
                .map_err(|e| ApiError::transport(e.to_string()))?;
            let response = router
                .oneshot(request)
                .await
                .map_err(|e| ApiError::transport(e.to_string()))?;
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
                .await
                .map_err(|e| ApiError::transport(e.to_string()))?;
            outcome(status, String::from_utf8_lossy(&bytes).into_owned())
        }
    }

    #[cfg(not(feature = "ssr"))]
    fn call(
        &self,
        method: Method,
        path: String,
        body: Option<String>,
    ) -> impl Future<Output = Result<String, ApiError>> + Send + 'static {
        #[cfg(feature = "hydrate")]
        {
            send_wrapper::SendWrapper::new(async move {
                use gloo_net::http::{Method as M, RequestBuilder};
                let method = match method {
                    Method::Get => M::GET,
                    Method::Post => M::POST,
                    Method::Patch => M::PATCH,
                    Method::Put => M::PUT,
                    Method::Delete => M::DELETE,
                };
                let builder = RequestBuilder::new(&path)
                    .method(method)
                    .header("Accept", "application/json");
                let request = match body {
                    Some(body) => builder
                        .header("Content-Type", "application/json")
                        .body(body),
                    None => builder.build(),
                }
                .map_err(|e| ApiError::transport(e.to_string()))?;
                let response = request.send().await.map_err(|_| {
                    ApiError::transport("Wheelhouse could not be reached. Check your connection.")
                })?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                outcome(status, text)
            })
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (method, path, body);
            async { Err(ApiError::transport("no API transport in this build")) }
        }
    }
}

fn encode<B: Serialize>(body: &B) -> String {
    serde_json::to_string(body).unwrap_or_else(|_| "null".into())
}

fn outcome(status: u16, text: String) -> Result<String, ApiError> {
    if (200..300).contains(&status) {
        return Ok(text);
    }
    Err(match serde_json::from_str::<ErrorBody>(&text) {
        Ok(ErrorBody { error }) => ApiError {
            status,
            code: error.code,
            message: error.message,
            field: error.field,
            current_revision: error.current_revision,
        },
        Err(_) => ApiError {
            status,
            code: "http_error".into(),
            message: format!("The server answered {status}."),
            field: None,
            current_revision: None,
        },
    })
}

fn decode<T: DeserializeOwned>(text: String) -> Result<T, ApiError> {
    serde_json::from_str(&text)
        .map_err(|e| ApiError::transport(format!("unexpected answer from the server: {e}")))
}
