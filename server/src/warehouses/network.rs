//! Where validation may connect. Validation connects to an address a user typed, from inside our network: a
//! request forgery waiting to happen. So every address a host name resolves to is checked before anything
//! connects, and the connection then goes to the checked address (not to the name again, which could
//! resolve elsewhere the second time).
//!
//! Always refused: link-local addresses, where clouds serve instance metadata and credentials
//! (169.254.0.0/16, fe80::/10, AWS's fd00:ec2::254), and the unspecified and broadcast addresses. Then the
//! instance's settings: `WHEELHOUSE_VALIDATION_DENY` lists networks never reached, and
//! `WHEELHOUSE_VALIDATION_ALLOW`, when set, the only ones that are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// The instance's rules.
#[derive(Clone, Debug, Default)]
pub struct NetworkPolicy {
    /// Empty: every address not refused otherwise.
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

/// Why an address is refused: the message of a failed connection step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl NetworkPolicy {
    /// Checks one address.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        let ip = canonical(ip);
        if let Some(what) = always_refused(ip) {
            return Err(Refused(format!(
                "{host} resolves to {ip}, {what}: validation never connects there (this cannot be allowed)"
            )));
        }
        if let Some(net) = self.deny.iter().find(|net| net.contains(&ip)) {
            return Err(Refused(format!(
                "{host} resolves to {ip}, in {net}, which WHEELHOUSE_VALIDATION_DENY keeps validation from \
                 reaching; an instance administrator can remove it from that setting"
            )));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|net| net.contains(&ip)) {
            return Err(Refused(format!(
                "{host} resolves to {ip}, outside the networks WHEELHOUSE_VALIDATION_ALLOW lets validation \
                 reach; an instance administrator can add it to that setting"
            )));
        }
        Ok(())
    }

    /// Resolves `host` and checks every address it resolves to: one refused address refuses the name (an
    /// attacker's DNS could hand out the allowed one first and the forbidden one next). Returns the addresses
    /// to connect to.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refused> {
        let host = host.trim();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| Refused(format!("{host} could not be resolved: {e}")))?
                .collect(),
        };
        if addresses.is_empty() {
            return Err(Refused(format!("{host} resolves to no address")));
        }
        for address in &addresses {
            self.check(host, address.ip())?;
        }
        Ok(addresses)
    }
}

/// An IPv4 address written as IPv6 (`::ffff:169.254.169.254`) is checked as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn always_refused(ip: IpAddr) -> Option<&'static str> {
    const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => {
            Some("a link-local address (where clouds serve instance metadata)")
        }
        IpAddr::V4(v4) if v4.is_unspecified() || v4 == Ipv4Addr::BROADCAST => {
            Some("not an address of a host")
        }
        IpAddr::V6(v6) if v6 == AWS_METADATA_V6 => Some("a cloud metadata address"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => {
            Some("a link-local address (where clouds serve instance metadata)")
        }
        IpAddr::V6(v6) if v6.is_unspecified() => Some("not an address of a host"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn metadata_and_link_local_addresses_are_always_refused() {
        let open = NetworkPolicy {
            allow: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
            deny: Vec::new(),
        };
        for refused in [
            "169.254.169.254",
            "169.254.0.1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:169.254.169.254",
            "0.0.0.0",
        ] {
            let error = open.check("h", ip(refused)).unwrap_err();
            assert!(error.0.contains("never connects"), "{refused}: {error:?}");
        }
        assert!(open.check("h", ip("10.1.2.3")).is_ok());
        assert!(open.check("h", ip("127.0.0.1")).is_ok());
    }

    #[test]
    fn the_settings_name_themselves_in_a_refusal() {
        let policy = NetworkPolicy {
            allow: vec!["10.0.0.0/8".parse().unwrap()],
            deny: vec!["10.9.0.0/16".parse().unwrap()],
        };
        assert!(policy.check("db", ip("10.1.0.1")).is_ok());
        let denied = policy.check("db", ip("10.9.0.1")).unwrap_err();
        assert!(
            denied.0.contains("WHEELHOUSE_VALIDATION_DENY"),
            "{denied:?}"
        );
        let outside = policy.check("db", ip("192.168.1.1")).unwrap_err();
        assert!(
            outside.0.contains("WHEELHOUSE_VALIDATION_ALLOW"),
            "{outside:?}"
        );
    }

    #[tokio::test]
    async fn every_address_of_a_name_is_checked() {
        let policy = NetworkPolicy {
            allow: Vec::new(),
            deny: vec!["127.0.0.0/8".parse().unwrap()],
        };
        let refused = policy.resolve("localhost", 5432).await.unwrap_err();
        assert!(refused.0.contains("localhost resolves to"), "{refused:?}");
        let literal = NetworkPolicy::default()
            .resolve("[::1]", 5432)
            .await
            .unwrap();
        assert_eq!(literal, vec!["[::1]:5432".parse().unwrap()]);
    }
}
