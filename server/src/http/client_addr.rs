use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::state::AppState;

/// The client's address: the connection's peer, or behind trusted reverse proxies the address they saw.
/// None for in-process calls, which come over no connection.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(peer.map(|peer| {
            client_behind(peer, &parts.headers, &state.trusted_proxies)
        })))
    }
}

/// Walks `X-Forwarded-For` from the right for as long as the hop is one of our proxies: the first address
/// not ours is the client. Whatever stands left of it, the client could have written itself.
fn client_behind(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let ours = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !ours(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(address) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = address;
        if !ours(&address) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["1.2.3.4"]);
        assert_eq!(client_behind(ip("9.9.9.9"), &headers, &[]), ip("9.9.9.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_address_not_ours_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // The client wrote 6.6.6.6 itself; our outer proxy 10.0.0.2 saw 5.5.5.5.
        let headers = forwarded(&["6.6.6.6, 5.5.5.5", "10.0.0.2"]);
        assert_eq!(
            client_behind(ip("10.0.0.1"), &headers, &trusted),
            ip("5.5.5.5")
        );
    }

    #[test]
    fn a_trusted_peer_without_a_usable_header_is_the_client() {
        let trusted = ["10.0.0.1/32".parse().unwrap()];
        assert_eq!(
            client_behind(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        let garbage = forwarded(&["not an address"]);
        assert_eq!(
            client_behind(ip("10.0.0.1"), &garbage, &trusted),
            ip("10.0.0.1")
        );
    }
}
