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

    /// netrare's uncalibrated `ln P(m most extreme of the samples)`, as ml-cpp's
    /// `CLogProbabilityOfMFromNExtremeSamples(m)::calculate` after adding `samples`.
    fn log_p(samples: &[f64], m: usize) -> f64 {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let smallest: Vec<f64> = sorted
            .iter()
            .take(m)
            .map(|p| p.clamp(f64::MIN_POSITIVE, 1.0))
            .collect();
        log_extreme(&smallest, samples.len())
    }

    /// ml-cpp's reference in `CProbabilityAggregatorsTest.cc`,
    /// `CExpectedLogProbabilityOfMFromNExtremeSamples`: `ln[N!/(N−M)!]` plus the log of the
    /// nested integral of `(1 − x)^(N−M)` over the M smallest samples, each level by ten-point
    /// Gauss–Legendre in logs (`CIntegration::logGaussLegendre<OrderTen>`).
    fn reference(samples: &[f64], m: usize) -> f64 {
        let mut p = samples.to_vec();
        p.sort_by(f64::total_cmp);
        p.truncate(m);
        let (n, m) = (samples.len(), p.len());
        log_gauss_legendre_10(&|x| reference_level(&p, n, m, 1, x), 0.0, p[0])
            + ln_gamma(n as f64 + 1.0)
            - ln_gamma((n - m) as f64 + 1.0)
    }

    fn reference_level(limits: &[f64], n: usize, m: usize, i: usize, x: f64) -> f64 {
        if i == m {
            return (n - m) as f64 * (1.0 - x).ln();
        }
        log_gauss_legendre_10(&|y| reference_level(limits, n, m, i + 1, y), x, limits[i])
    }

    /// `CIntegration::logGaussLegendre<OrderTen>`: `ln ∫_a^b exp(f)`.
    fn log_gauss_legendre_10(f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> f64 {
        const WEIGHTS: [f64; 10] = [
            0.2955242247147529,
            0.2955242247147529,
            0.2692667193099963,
            0.2692667193099963,
            0.219086362515982,
            0.219086362515982,
            0.1494513491505806,
            0.1494513491505806,
            0.0666713443086881,
            0.0666713443086881,
        ];
        const ABSCISSAS: [f64; 10] = [
            -0.1488743389816312,
            0.1488743389816312,
            -0.4333953941292472,
            0.4333953941292472,
            -0.6794095682990244,
            0.6794095682990244,
            -0.8650633666889845,
            0.8650633666889845,
            -0.9739065285171717,
            0.9739065285171717,
        ];
        let (a, b) = if b <= a { (b, a) } else { (a, b) };
        let (centre, range) = ((a + b) / 2.0, (b - a) / 2.0);
        let fx: Vec<f64> = ABSCISSAS.iter().map(|x| f(centre + range * x)).collect();
        let fmax = fx.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum = fx
            .iter()
            .zip(WEIGHTS)
            .map(|(fx, w)| w * (fx - fmax).exp())
            .sum::<f64>()
            * range;
        if sum <= 0.0 {
            f64::MIN_POSITIVE.ln()
        } else {
            fmax + sum.ln()
        }
    }

    /// `BOOST_REQUIRE_CLOSE_ABSOLUTE(expected, got, tolerance · |max(expected, got)|)`.
    fn within(expected: f64, got: f64, tolerance: f64) -> Result<(), String> {
        let allowed = tolerance * expected.max(got).abs();
        if (expected - got).abs() <= allowed {
            Ok(())
        } else {
            Err(format!("{got} vs ml-cpp's {expected} (±{allowed:e})"))
        }
    }

    /// Ports ml-cpp `lib/maths/common/unittest/CProbabilityAggregatorsTest.cc`,
    /// `testProbabilityOfMFromNExtremeSamples`, case 1: eleven probabilities, M = 1 to 5, against
    /// the reference integral within a relative 1e-8.
    #[test]
    fn ml_cpp_m_from_n_extreme_against_the_integral() {
        let ps = [0.5, 0.5, 0.4, 0.02, 0.7, 0.9, 0.4, 0.2, 0.03, 0.5, 0.6];
        for m in 1..6 {
            within(reference(&ps, m), log_p(&ps, m), 1e-8).unwrap_or_else(|e| panic!("M {m}: {e}"));
        }
    }

    /// Ports `testProbabilityOfMFromNExtremeSamples`, case 3 (numerical robustness): nineteen
    /// probabilities cycled to N = 19, 190 and 19,000, M = 1 to 5, against the reference within
    /// a relative 1e-4.
    #[test]
    fn ml_cpp_m_from_n_extreme_robustness() {
        let ps = [
            1.90005e-6, 2.09343e-5, 2.36102e-5, 2.36102e-4, 3.21197e-4, 0.104481, 0.311476,
            0.46037, 0.958691, 0.144973, 0.345924, 0.111316, 0.346185, 0.993074, 0.0902145,
            0.0902145, 0.673371, 0.346075, 0.346025,
        ];
        for m in 1..6 {
            for n in [19, 190, 19_000] {
                let samples: Vec<f64> = (0..n).map(|k| ps[k % ps.len()]).collect();
                within(reference(&samples, m), log_p(&samples, m), 1e-4)
                    .unwrap_or_else(|e| panic!("M {m}, N {n}: {e}"));
            }
        }
    }

    /// Ports `testProbabilityOfMFromNExtremeSamples`, cases 4 (155 × 0.9917012, once a NaN
    /// from overflow) and 5 (10 × (1 − 1e-10), once the log of a negative number): M = 5,
    /// log probability 0 within 1e-6.
    #[test]
    fn ml_cpp_m_from_n_extreme_near_one_is_certain() {
        assert!(log_p(&[0.9917012; 155], 5).abs() <= 1e-6);
        assert!(log_p(&[1.0 - 1e-10; 10], 5).abs() <= 1e-6);
    }

    /// Ports `testProbabilityOfMFromNExtremeSamples`, cases 6 to 9 (underflow, and overflows of
    /// one over a coefficient that once gave NaN or infinity), against the reference within a
    /// relative 1e-8.
    #[test]
    fn ml_cpp_m_from_n_extreme_problem_cases() {
        let ones = |mut head: Vec<f64>, n: usize| {
            head.resize(n, 1.0);
            head
        };
        let cases: [(Vec<f64>, usize); 4] = [
            (vec![f64::MIN_POSITIVE; 10], 3),
            (
                ones(
                    vec![0.004703117, 0.05059556, 1.0 - f64::EPSILON, 1.0, 1.0],
                    22,
                ),
                5,
            ),
            (ones(vec![0.000234811, 1.0 - 2e-16, 1.0 - 1.5e-16], 22), 3),
            (
                ones(
                    vec![
                        0.08528782661735056,
                        0.3246988524001009,
                        0.5428693993904167,
                        0.9999999999999999,
                        0.9999999999999999,
                    ],
                    24,
                ),
                5,
            ),
        ];
        for (i, (samples, m)) in cases.iter().enumerate() {
            within(reference(samples, *m), log_p(samples, *m), 1e-8)
                .unwrap_or_else(|e| panic!("case {}: {e}", i + 6));
        }
    }

    /// Ports `testProbabilityOfMFromNExtremeSamples`, case 10 (underflow of the numerical
    /// integration): 21,402 probabilities of 1 and five small ones, M = 5: −306.072 within 1e-3.
    #[test]
    fn ml_cpp_m_from_n_extreme_integral_underflow() {
        let mut samples = vec![1.0; 21_402];
        samples.extend([
            3.622684004911715e-76,
            3.622684004911715e-76,
            0.1534837115755979,
            0.1608058997234747,
            0.5143979767475618,
        ]);
        let got = log_p(&samples, 5);
        assert!((got - -306.072).abs() <= 1e-3, "{got}");
    }
}
