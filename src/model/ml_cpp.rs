//! How ml-cpp's unit tests print numbers, so that their expected strings can be compared as they
//! are written there.

/// `printf("%.7g", x)`: ml-cpp's `CStringUtils::typeToStringPretty`, with which
/// `CContainerPrinter` prints doubles.
pub(crate) fn pretty(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let scientific = format!("{x:.6e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("an exponent");
    let exponent: i32 = exponent.parse().expect("a number");
    let trim = |digits: String| {
        if digits.contains('.') {
            digits
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        } else {
            digits
        }
    };
    if (-4..7).contains(&exponent) {
        let decimals = (6 - exponent) as usize;
        trim(format!("{x:.decimals$}"))
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa.to_string()), exponent.abs())
    }
}

/// A list as `CContainerPrinter` prints it: `[a, b, c]`.
pub(crate) fn pretty_list(xs: &[f64]) -> String {
    let items: Vec<String> = xs.iter().map(|&x| pretty(x)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_printf_7g() {
        assert_eq!(pretty(41.627_764_9), "41.62776");
        assert_eq!(pretty(1.14), "1.14");
        assert_eq!(pretty(1.0), "1");
        assert_eq!(pretty(0.000_885_378_2), "0.0008853782");
        assert_eq!(pretty(0.000_885_378_04), "0.000885378");
        assert_eq!(pretty(0.02066228), "0.02066228");
        assert_eq!(pretty(1.234_567_89e-5), "1.234568e-05");
        assert_eq!(pretty(12_345_678.0), "1.234568e+07");
        assert_eq!(pretty(0.0), "0");
        assert_eq!(pretty_list(&[1.0, 0.5]), "[1, 0.5]");
    }
}
