//! Architectures (the `arch=` field, an `AUDIT_ARCH_*` constant in hex) and the syscall numbers
//! ingest needs on each: the socket calls and `execve`. Numbers differ per architecture
//! (`bind` is 49 on x86_64, 200 on aarch64, 327 on ppc64); i386, ppc and s390 may also reach
//! the socket calls through `socketcall`, whose first argument names the call.

/// An audited architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    I386,
    Aarch64,
    Arm,
    Ppc64,
    Ppc64le,
    S390x,
}

impl Arch {
    /// Reads an `arch=` value such as `c000003e`.
    pub fn from_audit(hex: &str) -> Option<Arch> {
        match u32::from_str_radix(hex, 16).ok()? {
            0xc000_003e => Some(Arch::X86_64),
            0x4000_0003 => Some(Arch::I386),
            0xc000_00b7 => Some(Arch::Aarch64),
            0x4000_0028 => Some(Arch::Arm),
            0x8000_0015 => Some(Arch::Ppc64),
            0xc000_0015 => Some(Arch::Ppc64le),
            0x8000_0016 => Some(Arch::S390x),
            _ => None,
        }
    }

    /// The name go-libaudit and auditd print, e.g. `x86_64`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I386 => "i386",
            Arch::Aarch64 => "aarch64",
            Arch::Arm => "arm",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
        }
    }

    /// Whether the architecture is big-endian (`AUDIT_ARCH_*` lacks the little-endian bit).
    pub fn big_endian(self) -> bool {
        matches!(self, Arch::Ppc64 | Arch::S390x)
    }

    /// The syscall's name, for the syscalls ingest handles.
    pub fn syscall_name(self, number: u32) -> Option<&'static str> {
        let table = match self {
            Arch::X86_64 => X86_64,
            Arch::I386 => I386,
            Arch::Aarch64 => AARCH64,
            Arch::Arm => ARM,
            Arch::Ppc64 | Arch::Ppc64le => PPC,
            Arch::S390x => S390X,
        };
        table
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, name)| *name)
    }
}

/// The call a `socketcall` makes, from its first argument (`SYS_CONNECT` = 3, ...).
pub fn socketcall_name(call: u64) -> Option<&'static str> {
    let name = match call {
        1 => "socket",
        2 => "bind",
        3 => "connect",
        4 => "listen",
        5 => "accept",
        6 => "getsockname",
        7 => "getpeername",
        9 => "send",
        10 => "recv",
        11 => "sendto",
        12 => "recvfrom",
        16 => "sendmsg",
        17 => "recvmsg",
        18 => "accept4",
        19 => "recvmmsg",
        20 => "sendmmsg",
        _ => return None,
    };
    Some(name)
}

type Table = &'static [(u32, &'static str)];

const X86_64: Table = &[
    (41, "socket"),
    (42, "connect"),
    (43, "accept"),
    (44, "sendto"),
    (45, "recvfrom"),
    (46, "sendmsg"),
    (47, "recvmsg"),
    (49, "bind"),
    (50, "listen"),
    (51, "getsockname"),
    (52, "getpeername"),
    (59, "execve"),
    (288, "accept4"),
    (299, "recvmmsg"),
    (307, "sendmmsg"),
    (322, "execveat"),
];

const I386: Table = &[
    (11, "execve"),
    (102, "socketcall"),
    (337, "recvmmsg"),
    (345, "sendmmsg"),
    (358, "execveat"),
    (359, "socket"),
    (361, "bind"),
    (362, "connect"),
    (363, "listen"),
    (364, "accept4"),
    (367, "getsockname"),
    (368, "getpeername"),
    (369, "sendto"),
    (370, "sendmsg"),
    (371, "recvfrom"),
    (372, "recvmsg"),
];

const AARCH64: Table = &[
    (198, "socket"),
    (200, "bind"),
    (201, "listen"),
    (202, "accept"),
    (203, "connect"),
    (204, "getsockname"),
    (205, "getpeername"),
    (206, "sendto"),
    (207, "recvfrom"),
    (211, "sendmsg"),
    (212, "recvmsg"),
    (221, "execve"),
    (242, "accept4"),
    (243, "recvmmsg"),
    (269, "sendmmsg"),
    (281, "execveat"),
];

const ARM: Table = &[
    (11, "execve"),
    (281, "socket"),
    (282, "bind"),
    (283, "connect"),
    (284, "listen"),
    (285, "accept"),
    (286, "getsockname"),
    (287, "getpeername"),
    (289, "send"),
    (290, "sendto"),
    (291, "recv"),
    (292, "recvfrom"),
    (296, "sendmsg"),
    (297, "recvmsg"),
    (365, "recvmmsg"),
    (366, "accept4"),
    (374, "sendmmsg"),
    (387, "execveat"),
];

const PPC: Table = &[
    (11, "execve"),
    (102, "socketcall"),
    (326, "socket"),
    (327, "bind"),
    (328, "connect"),
    (329, "listen"),
    (330, "accept"),
    (331, "getsockname"),
    (332, "getpeername"),
    (334, "send"),
    (335, "sendto"),
    (336, "recv"),
    (337, "recvfrom"),
    (341, "sendmsg"),
    (342, "recvmsg"),
    (343, "recvmmsg"),
    (344, "accept4"),
    (349, "sendmmsg"),
    (362, "execveat"),
];

const S390X: Table = &[
    (11, "execve"),
    (102, "socketcall"),
    (354, "execveat"),
    (357, "recvmmsg"),
    (358, "sendmmsg"),
    (359, "socket"),
    (361, "bind"),
    (362, "connect"),
    (363, "listen"),
    (364, "accept4"),
    (367, "getsockname"),
    (368, "getpeername"),
    (369, "sendto"),
    (370, "sendmsg"),
    (371, "recvfrom"),
    (372, "recvmsg"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_constants_and_byte_order() {
        assert_eq!(Arch::from_audit("c000003e"), Some(Arch::X86_64));
        assert_eq!(Arch::from_audit("80000015"), Some(Arch::Ppc64));
        assert!(Arch::Ppc64.big_endian() && Arch::S390x.big_endian());
        assert!(!Arch::Ppc64le.big_endian() && !Arch::X86_64.big_endian());
        assert_eq!(Arch::from_audit("zz"), None);
        assert_eq!(Arch::from_audit("12345"), None);
    }

    #[test]
    fn same_call_has_different_numbers_per_arch() {
        let bind = [
            (Arch::X86_64, 49),
            (Arch::I386, 361),
            (Arch::Aarch64, 200),
            (Arch::Arm, 282),
            (Arch::Ppc64, 327),
            (Arch::S390x, 361),
        ];
        for (arch, number) in bind {
            assert_eq!(arch.syscall_name(number), Some("bind"), "{arch:?}");
        }
        let connect = [
            (Arch::X86_64, 42),
            (Arch::I386, 362),
            (Arch::Aarch64, 203),
            (Arch::Arm, 283),
            (Arch::Ppc64le, 328),
            (Arch::S390x, 362),
        ];
        for (arch, number) in connect {
            assert_eq!(arch.syscall_name(number), Some("connect"), "{arch:?}");
        }
        assert_eq!(Arch::X86_64.syscall_name(59), Some("execve"));
        assert_eq!(Arch::Aarch64.syscall_name(221), Some("execve"));
        assert_eq!(Arch::X86_64.syscall_name(313), None);
    }

    #[test]
    fn socketcall_numbers() {
        assert_eq!(socketcall_name(3), Some("connect"));
        assert_eq!(socketcall_name(18), Some("accept4"));
        assert_eq!(socketcall_name(99), None);
    }
}
