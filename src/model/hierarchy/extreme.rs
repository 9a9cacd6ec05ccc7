//! The probability of the m most extreme of n samples (ml-cpp's
//! `CLogProbabilityOfMFromNExtremeSamples`), in logs, calibrated as ml-cpp calibrates it.
//!
//! The probability is `1 - (1 - p_M)^N` plus a sum whose coefficients follow a recurrence
//! (kept normalised to avoid underflow); when cancellation eats its precision, a nested
//! three-point Gauss–Legendre integration of the defining integral takes over.

use statrs::function::gamma::ln_gamma;

use super::numeric::{one_minus_pow_one_minus, pow_one_minus};

/// Relative precision below which the series is abandoned for the integral.
const PRECISION: f64 = 1e6;
/// The integral is taken over at most this many of the smallest probabilities.
const MAX_DIMENSION: usize = 10;

/// `ln P(m most extreme of n)`, divided by `1 + ln(min(m, n)) / 2.1` (ml-cpp's Monte-Carlo
/// calibration); `sorted` are all n samples, ascending.
pub fn log_extreme_calibrated(sorted: &[f64], m: usize) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let smallest: Vec<f64> = sorted
        .iter()
        .take(m.max(1))
        .map(|p| p.clamp(f64::MIN_POSITIVE, 1.0))
        .collect();
    let result = log_extreme(&smallest, n);
    result / (1.0 + (smallest.len().min(n) as f64).ln() / 2.1)
}

/// `ln P` for the `smallest` M probabilities (ascending) of `n` samples.
fn log_extreme(smallest: &[f64], n: usize) -> f64 {
    let big_m = smallest.len();
    let p_m = smallest[0];
    let p_min = one_minus_pow_one_minus(p_m, n as f64);
    if big_m == 1 {
        return p_min.ln().min(0.0);
    }
    let (coeffs, log_largest) = coefficients(smallest, n);
    let log_scale = big_m as f64 * 2f64.ln() + ln_gamma((n + 1) as f64)
        - ln_gamma((n - big_m + 1) as f64)
        + log_largest;
    let terms: Vec<f64> = coeffs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let index = (coeffs.len() - i) as f64;
            c / index * one_minus_pow_one_minus(p_m / 2.0, index)
        })
        .collect();
    let sum: f64 = terms.iter().map(|t| t.abs()).sum();
    let mut result = if sum == 0.0 {
        p_min.ln()
    } else {
        series(&terms, sum, p_min, log_scale).unwrap_or_else(|| integral(smallest, n))
    };
    // A result this far above log 1 (or NaN) is a numerical failure of the series.
    if result.is_nan() || result >= 0.001 {
        result = integral(smallest, n);
    }
    if result.is_finite() {
        result.min(0.0)
    } else {
        0.0
    }
}

/// The normalised coefficients c(i, M) (in reverse order) and the log of their scale.
fn coefficients(smallest: &[f64], n: usize) -> (Vec<f64>, f64) {
    let big_m = smallest.len();
    let mut log_c = 0.0;
    let mut log_largest = 0.0;
    let mut coeffs: Vec<f64> = Vec::with_capacity(big_m - 1);
    for m in 1..big_m {
        let p = smallest[big_m - m];
        log_c -= (2.0 * (n - big_m + m) as f64).ln();
        let len = coeffs.len();
        let mut sum = 0.0;
        for (i, c) in coeffs.iter_mut().enumerate() {
            let index = (len - i) as f64;
            *c /= index;
            sum += *c * pow_one_minus(p / 2.0, index);
        }
        let q = pow_one_minus(p, (n - big_m + m) as f64).clamp(0.0, 1.0);
        coeffs.push(-sum - q * (log_c - log_largest).exp());
        let cmax = coeffs
            .iter()
            .map(|c| c.abs())
            .filter(|c| *c > 1.0 / f64::MAX)
            .fold(0.0, f64::max);
        if cmax > 0.0 {
            coeffs.iter_mut().for_each(|c| *c /= cmax);
            log_largest += cmax.ln();
        }
    }
    let cmax = coeffs.iter().map(|c| c.abs()).fold(0.0, f64::max);
    if cmax > 0.0 && cmax < 1.0 / f64::MAX {
        log_largest = cmax.ln();
        coeffs.iter_mut().for_each(|c| *c /= cmax);
    }
    (coeffs, log_largest)
}

/// The series value with `p_min` spread over the terms to limit cancellation; `None` when the
/// precision is lost.
fn series(terms: &[f64], sum: f64, p_min: f64, log_scale: f64) -> Option<f64> {
    let log_p_min = p_min.ln();
    if log_p_min - log_scale > f64::MAX.ln() {
        let total: f64 = terms.iter().map(|t| t.abs()).sum();
        return Some((total * p_min / sum).ln());
    }
    let mut result = 0.0;
    let mut condition: f64 = 0.0;
    if log_p_min - log_scale < f64::MIN_POSITIVE.ln() {
        for t in terms {
            result += t;
            condition = condition.max(t.abs());
        }
    } else {
        let spread = p_min / log_scale.exp();
        for t in terms {
            let remainder = t.abs() * spread / sum + t;
            result += remainder;
            condition = condition
                .max(t.abs())
                .max((t * spread / sum).abs())
                .max(remainder.abs());
        }
    }
    (result > 0.0 && condition <= PRECISION * result).then(|| log_scale + result.ln())
}

/// `ln[N!/(N-m)! ∫₀^{P₁}∫_{t₁}^{P₂}…(1-t_m)^{N-m} dt…]` by nested three-point Gauss–Legendre.
fn integral(smallest: &[f64], n: usize) -> f64 {
    let cutoff = [1.0e32, 1.0e16, 1.0e8, 1.0e4, 100.0];
    let scale = cutoff.get(n).copied().unwrap_or(100.0);
    let mut limits = vec![smallest[0]];
    let mut corrections = vec![0.0];
    for i in 1..smallest.len().min(MAX_DIMENSION) {
        let limit = smallest[i].min(scale * limits[i - 1]);
        corrections.push(if smallest[i] == smallest[i - 1] {
            0.0
        } else {
            (smallest[i] - smallest[i - 1]).ln() - (limit - limits[i - 1]).ln()
        });
        limits.push(limit);
    }
    let m = limits.len();
    let integrand = Integrand {
        limits: &limits,
        corrections: &corrections,
        n,
        m,
    };
    integrand.log_integrate(1, 0.0, limits[0]) + ln_gamma(n as f64 + 1.0)
        - ln_gamma((n - m) as f64 + 1.0)
}

struct Integrand<'a> {
    limits: &'a [f64],
    corrections: &'a [f64],
    n: usize,
    m: usize,
}

impl Integrand<'_> {
    /// The log of the level-`i` integrand at `x`.
    fn evaluate(&self, i: usize, x: f64) -> f64 {
        if i == self.m {
            return (self.n - self.m) as f64 * (-x).ln_1p();
        }
        self.log_integrate(i + 1, x, self.limits[i]) + self.corrections[i]
    }

    /// `ln ∫_a^b exp(f_i)` with three Gauss–Legendre points, normalised against underflow.
    fn log_integrate(&self, i: usize, a: f64, b: f64) -> f64 {
        let (a, b) = if b <= a { (b, a) } else { (a, b) };
        let abscissas = [-(0.6f64).sqrt(), 0.0, (0.6f64).sqrt()];
        let weights = [5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0];
        let (centre, range) = ((a + b) / 2.0, (b - a) / 2.0);
        let fx: Vec<f64> = abscissas
            .iter()
            .map(|x| self.evaluate(i, centre + range * x))
            .collect();
        let fmax = fx.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = fx
            .iter()
            .zip(weights)
            .map(|(f, w)| w * (f - fmax).exp())
            .sum::<f64>()
            * range;
        if sum <= 0.0 {
            f64::MIN_POSITIVE.ln()
        } else {
            fmax + sum.ln()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P(the 2 smallest of n uniforms are at most (a, b)), a ≤ b, by inclusion over orderings:
    /// n!/(n-2)! ∫₀^a ∫_{t₁}^b (1 - t₂)^{n-2} dt₂ dt₁.
    fn two_of_n(a: f64, b: f64, n: i32) -> f64 {
        let k = (n - 1) as f64;
        // ∫_{t}^{b} (1-u)^{n-2} du = ((1-t)^{k} - (1-b)^{k}) / k
        // ∫₀^a of that = [(1 - (1-a)^{k+1}) / (k+1) - a (1-b)^{k}] / k
        let inner = (1.0 - (1.0 - a).powf(k + 1.0)) / (k + 1.0) - a * (1.0 - b).powf(k);
        (n as f64) * (n - 1) as f64 * inner / k
    }

    #[test]
    fn one_extreme_is_the_smallest_of_n() {
        // 1 - (1 - 0.01)^10 = 0.0956179
        let log_p =
            log_extreme_calibrated(&[0.01, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], 1);
        assert!((log_p.exp() - 0.095_617_9).abs() < 1e-6, "{}", log_p.exp());
    }

    #[test]
    fn two_extremes_match_the_closed_form() {
        let ps = [0.001, 0.01, 0.5, 0.6, 0.7];
        let expected = two_of_n(0.001, 0.01, 5).ln() / (1.0 + 2f64.ln() / 2.1);
        let got = log_extreme_calibrated(&ps, 2);
        assert!(
            (got - expected).abs() < 1e-6 * expected.abs(),
            "{got} vs {expected}"
        );
    }

    #[test]
    fn integral_agrees_with_the_series() {
        let smallest = [0.001, 0.01];
        let series = log_extreme(&smallest, 5);
        let numerical = integral(&smallest, 5);
        assert!((series - numerical).abs() < 0.05, "{series} vs {numerical}");
    }
}
