//! Powers of `1 - x` without cancellation, shared by the probability aggregation and the
//! extreme-sample probability it mixes in.

/// `(1 - x)^p` without cancellation for small x.
pub(super) fn pow_one_minus(x: f64, p: f64) -> f64 {
    if x >= 1.0 {
        return 0.0;
    }
    (p * (-x).ln_1p()).exp()
}

/// `1 - (1 - x)^p` without cancellation for small x.
pub(super) fn one_minus_pow_one_minus(x: f64, p: f64) -> f64 {
    if x >= 1.0 {
        return 1.0;
    }
    -(p * (-x).ln_1p()).exp_m1()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_one_minus_x_are_exact_for_small_x() {
        assert!((one_minus_pow_one_minus(1e-20, 3.0) - 3e-20).abs() <= 1e-12 * 3e-20);
        assert!((pow_one_minus(0.5, 3.0) - 0.125).abs() <= 1e-15 * 0.125);
        assert_eq!(pow_one_minus(1.0, 3.0), 0.0);
    }
}
