//! Decoding the `saddr=` hex of SOCKADDR records: a raw `struct sockaddr` as the syscall saw it.
//!
//! The family is a `u16` in the machine's byte order (`0200` is AF_INET on x86, `0002` on
//! ppc64); ports are always big-endian. Layouts: AF_INET family, port, 4-byte address;
//! AF_INET6 family, port, 4-byte flow info, 16-byte address; AF_UNIX family and a NUL-padded
//! path (a leading NUL marks an abstract name, shown as `@name`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::hex;

const AF_UNSPEC: u16 = 0;
const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const AF_NETLINK: u16 = 16;

/// Byte order of the machine that wrote the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
    /// The architecture is not known: pick the order that gives a known family.
    Unknown,
}

/// A decoded socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    /// AF_INET or AF_INET6 (IPv4-mapped IPv6 addresses are shown as IPv4, as Go's `net.IP` does).
    Ip { ip: IpAddr, port: u16 },
    /// AF_UNIX with its path.
    Unix { path: String },
    /// AF_NETLINK.
    Netlink,
    /// AF_UNSPEC (e.g. `connect` dissolving a UDP association).
    Unspec,
    /// Another family, by number.
    Other { family: u16 },
    /// An IP family whose address is cut short ("sockaddr len too short").
    Truncated { family: u16 },
    /// Not hex, or shorter than a family.
    Invalid,
}

impl SockAddr {
    /// The family name used in reports and docs.
    pub fn family_name(&self) -> String {
        match self {
            SockAddr::Ip {
                ip: IpAddr::V4(_), ..
            } => "inet".into(),
            SockAddr::Ip {
                ip: IpAddr::V6(_), ..
            } => "inet6".into(),
            SockAddr::Unix { .. } => "unix".into(),
            SockAddr::Netlink => "netlink".into(),
            SockAddr::Unspec => "unspec".into(),
            SockAddr::Other { family } | SockAddr::Truncated { family } => family.to_string(),
            SockAddr::Invalid => "invalid".into(),
        }
    }
}

/// Decodes `saddr` hex written on a machine of byte order `endian`.
pub fn decode(saddr: &str, endian: Endian) -> SockAddr {
    let Some(bytes) = hex::decode(saddr) else {
        return SockAddr::Invalid;
    };
    let Some((&[a, b], rest)) = bytes.split_first_chunk::<2>() else {
        return SockAddr::Invalid;
    };
    let family = match endian {
        Endian::Little => u16::from_le_bytes([a, b]),
        Endian::Big => u16::from_be_bytes([a, b]),
        Endian::Unknown => guess_family(a, b),
    };
    match family {
        AF_INET => ipv4(rest).unwrap_or(SockAddr::Truncated { family }),
        AF_INET6 => ipv6(rest).unwrap_or(SockAddr::Truncated { family }),
        AF_UNIX => SockAddr::Unix {
            path: unix_path(rest),
        },
        AF_NETLINK => SockAddr::Netlink,
        AF_UNSPEC => SockAddr::Unspec,
        family => SockAddr::Other { family },
    }
}

/// Without a known architecture: little-endian unless only the big-endian reading is a known family.
fn guess_family(a: u8, b: u8) -> u16 {
    let little = u16::from_le_bytes([a, b]);
    let big = u16::from_be_bytes([a, b]);
    let known = |f: u16| matches!(f, AF_UNSPEC | AF_UNIX | AF_INET | AF_INET6 | AF_NETLINK);
    if !known(little) && known(big) {
        big
    } else {
        little
    }
}

fn ipv4(rest: &[u8]) -> Option<SockAddr> {
    let (&port, rest) = rest.split_first_chunk::<2>()?;
    let (&addr, _) = rest.split_first_chunk::<4>()?;
    Some(SockAddr::Ip {
        ip: IpAddr::V4(Ipv4Addr::from(addr)),
        port: u16::from_be_bytes(port),
    })
}

fn ipv6(rest: &[u8]) -> Option<SockAddr> {
    let (&port, rest) = rest.split_first_chunk::<2>()?;
    let (&addr, _) = rest.get(4..)?.split_first_chunk::<16>()?;
    let v6 = Ipv6Addr::from(addr);
    let ip = v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4);
    Some(SockAddr::Ip {
        ip,
        port: u16::from_be_bytes(port),
    })
}

fn unix_path(rest: &[u8]) -> String {
    match rest.split_first() {
        Some((0, name)) => {
            let name = name
                .iter()
                .rposition(|&b| b != 0)
                .map_or(&name[..0], |end| &name[..=end]);
            format!("@{}", String::from_utf8_lossy(name))
        }
        _ => {
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end]).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str, port: u16) -> SockAddr {
        SockAddr::Ip {
            ip: text.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn inet_little_endian() {
        assert_eq!(
            decode("02000050A9FEA9FE0000000000000000", Endian::Little),
            ip("169.254.169.254", 80)
        );
        assert_eq!(
            decode("02002BCB7F0000010000000000000000", Endian::Little),
            ip("127.0.0.1", 11211)
        );
    }

    #[test]
    fn inet_big_endian_family_bytes_are_swapped() {
        assert_eq!(
            decode("0002D903000000000000000000000000", Endian::Big),
            ip("0.0.0.0", 55555)
        );
        assert_eq!(
            decode("0002D903000000000000000000000000", Endian::Little),
            SockAddr::Other { family: 512 }
        );
        assert_eq!(
            decode("0002D903000000000000000000000000", Endian::Unknown),
            ip("0.0.0.0", 55555)
        );
    }

    #[test]
    fn inet6_and_mapped_v4() {
        assert_eq!(
            decode(
                "0A002BCB000000000000000000000000000000000000000100000000",
                Endian::Little
            ),
            ip("::1", 11211)
        );
        assert_eq!(
            decode(
                "0A000016000000000000000000000000000000000000000000000000",
                Endian::Little
            ),
            ip("::", 22)
        );
        assert_eq!(
            decode(
                "0A0000350000000000000000000000000000FFFF0A00000100000000",
                Endian::Little
            ),
            ip("10.0.0.1", 53)
        );
    }

    #[test]
    fn unix_paths_are_nul_terminated_or_abstract() {
        let nscd = "01002F7661722F72756E2F6E7363642F736F636B65740000603B7B47FC7F0000";
        assert_eq!(
            decode(nscd, Endian::Little),
            SockAddr::Unix {
                path: "/var/run/nscd/socket".into()
            }
        );
        assert_eq!(
            decode("0100006162630000", Endian::Little),
            SockAddr::Unix {
                path: "@abc".into()
            }
        );
        assert_eq!(
            decode("0100", Endian::Little),
            SockAddr::Unix {
                path: String::new()
            }
        );
    }

    #[test]
    fn other_families_and_garbage() {
        assert_eq!(
            decode("100000000000000000000000", Endian::Little),
            SockAddr::Netlink
        );
        assert_eq!(
            decode("00000000000000000000000000000000", Endian::Little),
            SockAddr::Unspec
        );
        assert_eq!(
            decode("11000000", Endian::Little),
            SockAddr::Other { family: 17 }
        );
        assert_eq!(
            decode("02000050A9FE", Endian::Little),
            SockAddr::Truncated { family: 2 }
        );
        assert_eq!(
            decode("0A00DE99", Endian::Little),
            SockAddr::Truncated { family: 10 }
        );
        assert_eq!(decode("02", Endian::Little), SockAddr::Invalid);
        assert_eq!(decode("XYZW", Endian::Little), SockAddr::Invalid);
    }
}
