//! HTTP clients for the warehouses spoken to over HTTP (ClickHouse's HTTP interface, Snowflake's SQL API,
//! BigQuery's REST API). Each is pinned to the addresses the network policy checked: the name is resolved
//! and checked once, and the client connects to those addresses (TLS still verifies the name), so a DNS
//! answer that changes between the check and the connection cannot send it elsewhere. Redirects are not
//! followed, for the same reason.

use std::time::Duration;

use url::Url;

use super::checks::Outcome;
use super::network::NetworkPolicy;

/// A client that reaches only `url`'s host, at the addresses the policy allowed.
pub async fn pinned_client(
    policy: &NetworkPolicy,
    url: &Url,
    timeout: Duration,
) -> Result<reqwest::Client, Outcome> {
    let host = url
        .host_str()
        .ok_or_else(|| Outcome::failed(format!("{url} names no host")))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Outcome::failed(format!("{url} names no port")))?;
    let addresses = policy
        .resolve(host, port)
        .await
        .map_err(|refused| Outcome::failed(refused.0))?;
    reqwest::Client::builder()
        .resolve_to_addrs(
            host.trim_start_matches('[').trim_end_matches(']'),
            &addresses,
        )
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent("Wheelhouse-validation")
        .build()
        .map_err(|e| Outcome::failed(format!("could not build an HTTP client: {e}")))
}

/// What went wrong on the way to an answer, in words (never the request, which may carry a credential).
pub fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".into()
    } else if error.is_connect() {
        format!(
            "could not connect: {}",
            std::error::Error::source(error)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "refused".into())
        )
    } else {
        // Without the URL: Snowflake's holds the account, BigQuery's could hold a token in a query.
        let mut text = error.to_string();
        if let Some(url) = error.url() {
            text = text.replace(url.as_str(), "the warehouse");
        }
        text
    }
}
