//! What kind of address a connection went to: the port rule's guide asks whether the destination
//! is an internal endpoint or external, and the process rule's whether it belongs to an expected
//! organisation; the first answer is the address's IANA range.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

/// The range an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1: the host itself.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16) and IPv6 unique local fc00::/7: internal.
    Private,
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598): a provider's internal space.
    Shared,
    /// 169.254.0.0/16, fe80::/10: the local link (cloud metadata services live here).
    LinkLocal,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 0.0.0.0, ::, 255.255.255.255: no single peer.
    Unspecified,
    /// Documentation and benchmarking ranges (192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24,
    /// 2001:db8::/32) and 240/4: never routed on the internet, so seeing them is itself odd.
    Reserved,
    /// Anything else: an address on the internet.
    Public,
    /// Not an IP address at all.
    Invalid,
}

impl AddressClass {
    /// The class of `text`, an IPv4 or IPv6 address; IPv4-mapped IPv6 addresses are classed by
    /// their IPv4 address.
    pub fn of(text: &str) -> AddressClass {
        let Ok(ip) = text.trim().parse::<IpAddr>() else {
            return AddressClass::Invalid;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let within = |nets: &[&str]| {
            nets.iter()
                .filter_map(|n| n.parse::<IpNet>().ok())
                .any(|n| n.contains(&ip))
        };
        if ip.is_loopback() {
            AddressClass::Loopback
        } else if ip.is_unspecified() || within(&["255.255.255.255/32"]) {
            AddressClass::Unspecified
        } else if ip.is_multicast() {
            AddressClass::Multicast
        } else if within(&["169.254.0.0/16", "fe80::/10"]) {
            AddressClass::LinkLocal
        } else if within(&["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]) {
            AddressClass::Private
        } else if within(&["100.64.0.0/10"]) {
            AddressClass::Shared
        } else if within(&[
            "192.0.2.0/24",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "240.0.0.0/4",
            "2001:db8::/32",
        ]) {
            AddressClass::Reserved
        } else {
            AddressClass::Public
        }
    }

    /// The class in words, for the text layout.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private (internal)",
            AddressClass::Shared => "shared (carrier-grade NAT)",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Multicast => "multicast",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Reserved => "reserved (documentation/benchmarking, not routed)",
            AddressClass::Public => "public (external)",
            AddressClass::Invalid => "not an IP address",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AddressClass::{self, *};

    #[test]
    fn addresses_fall_in_their_iana_ranges() {
        let cases = [
            ("127.0.0.1", Loopback),
            ("::1", Loopback),
            ("10.1.2.3", Private),
            ("172.31.255.1", Private),
            ("172.32.0.1", Public),
            ("192.168.0.9", Private),
            ("fd12::1", Private),
            ("100.64.0.1", Shared),
            ("169.254.169.254", LinkLocal),
            ("fe80::1", LinkLocal),
            ("224.0.0.251", Multicast),
            ("ff02::fb", Multicast),
            ("0.0.0.0", Unspecified),
            ("255.255.255.255", Unspecified),
            ("198.18.47.11", Reserved),
            ("2001:db8::5", Reserved),
            ("8.8.8.8", Public),
            ("::ffff:10.0.0.1", Private),
            ("2606:4700::1111", Public),
            ("web-01", Invalid),
        ];
        for (text, class) in cases {
            assert_eq!(AddressClass::of(text), class, "{text}");
        }
    }
}
