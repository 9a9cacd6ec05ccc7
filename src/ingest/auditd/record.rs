//! One `audit.log` line as a [`Record`]: header (`node=`, `type=`, `msg=audit(<epoch>.<ms>:<serial>)`)
//! and its `key=value` fields, raw as the kernel or auditd wrote them, plus the upper-case
//! interpreted fields that the ENRICHED log format appends after a `\x1d` byte.
//!
//! Values may be double-quoted, single-quoted (`msg='...'` of user-space records, whose inner
//! fields are flattened into the record) or bare; bare values of string fields such as `exe`,
//! `comm` or `proctitle` are hex-encoded and decoded on access. Any byte sequence is either a
//! record or an error string, never a panic.

use super::hex;

/// A parsed audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `node=` prefix: the host that produced the record, when logs are forwarded.
    pub node: Option<String>,
    /// Record type, e.g. `SYSCALL`, `SOCKADDR`, `EOE`.
    pub kind: String,
    /// Event time, epoch milliseconds UTC.
    pub timestamp_ms: i64,
    /// Event serial number; with the time (and node) it names the event.
    pub serial: u64,
    /// Fields in line order.
    pub fields: Vec<Field>,
    /// ENRICHED interpreted fields (`AUID` -> `alice`), in line order.
    pub enriched: Vec<(String, String)>,
}

/// One `key=value` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The key, e.g. `saddr`.
    pub key: String,
    /// The value without its quotes.
    pub value: String,
    /// Whether the value was quoted (quoted values are never hex).
    pub quoted: bool,
}

impl Record {
    /// The raw value of `key` (the last one if repeated).
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.field(key).map(|f| f.value.as_str())
    }

    /// The value of `key` with hex-encoded strings decoded; NUL separators become spaces.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.decoded(key) {
            Some(bytes) => {
                let trimmed = bytes.strip_suffix(b"\0").unwrap_or(&bytes);
                let spaced: Vec<u8> = trimmed
                    .iter()
                    .map(|&b| if b == 0 { b' ' } else { b })
                    .collect();
                Some(String::from_utf8_lossy(&spaced).into_owned())
            }
            None => self.raw(key).map(str::to_string),
        }
    }

    /// The value of `key` as NUL-separated arguments (`proctitle`), decoded from hex if encoded.
    pub fn args(&self, key: &str) -> Option<Vec<String>> {
        let bytes = self
            .decoded(key)
            .or_else(|| self.raw(key).map(|v| v.as_bytes().to_vec()))?;
        let mut args: Vec<String> = bytes
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        while args.last().is_some_and(String::is_empty) {
            args.pop();
        }
        Some(args)
    }

    /// The ENRICHED interpretation of `key` (upper-case, e.g. `UID`), if the line has one.
    pub fn enriched(&self, key: &str) -> Option<&str> {
        self.enriched
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().rev().find(|f| f.key == key)
    }

    fn decoded(&self, key: &str) -> Option<Vec<u8>> {
        let field = self.field(key)?;
        if field.quoted || !may_be_hex(&self.kind, key) || !hex::is_upper_hex(&field.value) {
            return None;
        }
        hex::decode(&field.value)
    }
}

/// Fields the kernel hex-encodes when they hold spaces, quotes or control bytes.
fn may_be_hex(kind: &str, key: &str) -> bool {
    let execve_arg = kind == "EXECVE"
        && key.len() > 1
        && key.starts_with('a')
        && key[1..].bytes().all(|b| b.is_ascii_digit());
    execve_arg
        || matches!(
            key,
            "exe" | "comm" | "proctitle" | "cwd" | "cmd" | "data" | "acct" | "name" | "path"
        )
}

/// Parses one line. The error says what is missing or wrong: the reason the ingest report gives
/// for the malformed line.
pub(crate) fn parse_line(line: &[u8]) -> Result<Record, String> {
    let text = String::from_utf8_lossy(line);
    let (main, enriched) = match text.find('\x1d') {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (&text[..], None),
    };
    let rest = main.trim_start();
    let (node, rest) = match rest.strip_prefix("node=") {
        Some(after) => {
            let (node, rest) = split_word(after);
            (Some(node.to_string()), rest)
        }
        None => (None, rest),
    };
    let rest = rest
        .trim_start()
        .strip_prefix("type=")
        .ok_or("no type= field")?;
    let (kind, rest) = split_word(rest);
    if kind.is_empty() {
        return Err("empty record type".into());
    }
    let rest = rest
        .trim_start()
        .strip_prefix("msg=audit(")
        .ok_or("no msg=audit(...) header")?;
    let close = rest.find(')').ok_or("unterminated msg=audit( header")?;
    let (timestamp_ms, serial) = parse_stamp(&rest[..close])?;
    let body = &rest[close + 1..];
    let mut fields = Vec::new();
    parse_fields(body.strip_prefix(':').unwrap_or(body), true, &mut fields)?;
    let enriched = enriched.map(parse_enriched).unwrap_or_default();
    Ok(Record {
        node,
        kind: kind.to_string(),
        timestamp_ms,
        serial,
        fields,
        enriched,
    })
}

fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// `1481076992.414:385` -> (1481076992414, 385).
fn parse_stamp(stamp: &str) -> Result<(i64, u64), String> {
    let bad = || format!("bad audit timestamp {stamp:?}");
    let (time, serial) = stamp.split_once(':').ok_or_else(bad)?;
    let (secs, frac) = time.split_once('.').ok_or_else(bad)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs) || !digits(frac) || !digits(serial) || frac.len() > 9 {
        return Err(bad());
    }
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let millis: i64 = format!("{frac:0<3}")[..3].parse().map_err(|_| bad())?;
    let serial: u64 = serial.parse().map_err(|_| bad())?;
    let ms = secs
        .checked_mul(1000)
        .and_then(|s| s.checked_add(millis))
        .ok_or_else(bad)?;
    Ok((ms, serial))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t')
}

/// Scans `key=value` pairs; bare words without `=` (`config changed,`) are skipped. A
/// single-quoted top-level `msg='...'` is scanned for its own fields.
fn parse_fields(body: &str, top: bool, out: &mut Vec<Field>) -> Result<(), String> {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if is_space(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_space(b[i]) && b[i] != b'=' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' || i == start {
            i += usize::from(i < b.len() && b[i] == b'=');
            continue;
        }
        let key = &body[start..i];
        i += 1;
        match b.get(i) {
            Some(&quote) if quote == b'"' || quote == b'\'' => {
                let len = body[i + 1..]
                    .find(char::from(quote))
                    .ok_or_else(|| format!("unterminated quote in field {key}"))?;
                let value = &body[i + 1..i + 1 + len];
                i += len + 2;
                if top && quote == b'\'' && key == "msg" {
                    parse_fields(value, false, out)?;
                } else {
                    out.push(Field {
                        key: key.to_string(),
                        value: value.to_string(),
                        quoted: true,
                    });
                }
            }
            _ => {
                let value_start = i;
                while i < b.len() && !is_space(b[i]) {
                    i += 1;
                }
                out.push(Field {
                    key: key.to_string(),
                    value: body[value_start..i].to_string(),
                    quoted: false,
                });
            }
        }
    }
    Ok(())
}

/// Scans the ENRICHED part: `KEY=value`, `KEY="value"` or `KEY={ ... }`; unterminated values
/// run to the end of the line (this part is informational).
fn parse_enriched(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (word, after) = split_word(rest);
        match word.split_once('=') {
            Some((key, _)) if !key.is_empty() => {
                let value_and_rest = &rest[key.len() + 1..];
                let (value, next) = enriched_value(value_and_rest);
                out.push((key.to_string(), value.to_string()));
                rest = next.trim_start();
            }
            _ => rest = after.trim_start(),
        }
    }
    out
}

fn enriched_value(s: &str) -> (&str, &str) {
    let closer = match s.as_bytes().first() {
        Some(b'"') => '"',
        Some(b'{') => '}',
        _ => return split_word(s),
    };
    match s[1..].find(closer) {
        Some(len) => (s[1..1 + len].trim(), &s[len + 2..]),
        None => (s[1..].trim(), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_node_and_quoted_and_hex_values() {
        let line = br#"node=web1 type=SYSCALL msg=audit(1492037289.295:58): arch=c000003e syscall=42 comm="google_accounts" exe=2F7573722F62696E2F707974686F6E322E37 key=(null)"#;
        let r = parse_line(line).unwrap();
        assert_eq!(
            (r.node.as_deref(), r.kind.as_str(), r.timestamp_ms, r.serial),
            (Some("web1"), "SYSCALL", 1_492_037_289_295, 58)
        );
        assert_eq!(r.text("comm").as_deref(), Some("google_accounts"));
        assert_eq!(r.text("exe").as_deref(), Some("/usr/bin/python2.7"));
        assert_eq!(r.raw("arch"), Some("c000003e"));
        assert_eq!(r.raw("key"), Some("(null)"));
    }

    #[test]
    fn proctitle_is_nul_separated_argv() {
        let r =
            parse_line(b"type=PROCTITLE msg=audit(1.5:1): proctitle=6E63002D6C002D70003535353535")
                .unwrap();
        assert_eq!(r.args("proctitle").unwrap(), ["nc", "-l", "-p", "55555"]);
        assert_eq!(r.text("proctitle").as_deref(), Some("nc -l -p 55555"));
        assert_eq!(r.timestamp_ms, 1500);
    }

    #[test]
    fn numbers_that_look_like_hex_stay_raw() {
        let r = parse_line(b"type=SYSCALL msg=audit(1.000:1): a2=10 pid=1234").unwrap();
        assert_eq!(r.text("a2").as_deref(), Some("10"));
        let execve =
            parse_line(b"type=EXECVE msg=audit(1.000:1): argc=2 a0=\"ls\" a1=2D6C2061").unwrap();
        assert_eq!(execve.text("a1").as_deref(), Some("-l a"));
    }

    #[test]
    fn single_quoted_msg_fields_are_flattened() {
        let line = br#"type=USER_LOGIN msg=audit(1481077043.193:421): pid=1298 uid=0 msg='op=login id=1000 exe="/usr/sbin/sshd" addr=96.241.146.97 res=success'"#;
        let r = parse_line(line).unwrap();
        assert_eq!(r.raw("op"), Some("login"));
        assert_eq!(r.raw("exe"), Some("/usr/sbin/sshd"));
        assert_eq!(r.raw("res"), Some("success"));
        assert_eq!(r.raw("msg"), None);
    }

    #[test]
    fn enriched_fields_follow_the_group_separator() {
        let line = b"type=SYSCALL msg=audit(1.000:1): uid=1000 auid=1000\x1dARCH=x86_64 SYSCALL=connect AUID=\"alice\" UID=\"bob\"";
        let r = parse_line(line).unwrap();
        assert_eq!(r.enriched("UID"), Some("bob"));
        assert_eq!(r.enriched("SYSCALL"), Some("connect"));
        assert_eq!(r.raw("auid"), Some("1000"));
        let sock = parse_line(b"type=SOCKADDR msg=audit(1.000:1): saddr=0100\x1dSADDR={ saddr_fam=local path=/run/x }").unwrap();
        assert_eq!(sock.enriched("SADDR"), Some("saddr_fam=local path=/run/x"));
    }

    #[test]
    fn bare_words_are_skipped_and_header_colon_is_optional() {
        let r = parse_line(b"type=DAEMON_CONFIG msg=audit(1490239800.477:34) config changed, auid=0 pid=1512 res=success").unwrap();
        assert_eq!(r.raw("auid"), Some("0"));
        assert_eq!(r.fields.len(), 3);
    }

    #[test]
    fn broken_headers_are_errors() {
        for line in [
            &b"type=UNKNOWN[1329] msg=?"[..],
            b"garbage",
            b"type=X msg=audit(12:3)",
            b"type=X msg=audit(1.2:x): a=1",
            b"type= msg=audit(1.2:3):",
        ] {
            assert!(
                parse_line(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(
            parse_line(b"type=X msg=audit(1.2:3): a=\"open")
                .unwrap_err()
                .contains("field a")
        );
        assert!(parse_line(b"type=X msg=audit(99999999999999999999.2:3):").is_err());
    }
}
