//! Hex decoding of audit values: the kernel writes untrusted strings (paths, command lines) and
//! socket addresses as hex digits.

/// Decodes an even-length string of hex digits (either case); `None` for anything else.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Whether `text` is what the kernel writes for an encoded string: upper-case hex digits, even length.
pub(crate) fn is_upper_hex(text: &str) -> bool {
    !text.is_empty()
        && text.len().is_multiple_of(2)
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_cases_and_rejects_the_rest() {
        assert_eq!(decode("6E63002d6C"), Some(b"nc\0-l".to_vec()));
        assert_eq!(decode("ABC"), None);
        assert_eq!(decode("ZZ"), None);
        assert_eq!(decode(""), None);
        assert_eq!(decode("é0"), None);
    }

    #[test]
    fn kernel_encoding_is_upper_case_only() {
        assert!(is_upper_hex("2F746D70"));
        assert!(!is_upper_hex("41a15c"));
        assert!(!is_upper_hex("ABC"));
    }
}
