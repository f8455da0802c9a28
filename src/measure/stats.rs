//! Statistics for repeated trials: mean with a Student-t 95% confidence interval, and Jain's
//! fairness index.

use serde::Serialize;

/// Two-sided 95% critical values of Student's t (the 0.975 quantile) for 1..=30 degrees of
/// freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The 0.975 quantile of Student's t with `df` degrees of freedom (beyond 30, the table's
/// coarser steps down to the normal 1.960).
pub fn t975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T975[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// Mean, spread and 95% confidence interval of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for a single value.
    pub stddev: f64,
    /// Half-width of the 95% confidence interval of the mean (0 for a single value).
    pub ci95: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for an empty sample.
    pub fn of(xs: &[f64]) -> Option<Summary> {
        let n = xs.len();
        if n == 0 {
            return None;
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let (stddev, ci95) = if n > 1 {
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let sd = var.sqrt();
            (sd, t975(n - 1) * sd / (n as f64).sqrt())
        } else {
            (0.0, 0.0)
        };
        Some(Summary {
            n,
            mean,
            stddev,
            ci95,
            min: xs.iter().copied().fold(f64::INFINITY, f64::min),
            max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

/// Jain's fairness index of allocations: 1 when all are equal, 1/n when one gets everything.
/// 1 for an empty or all-zero set (nothing to be unfair about).
pub fn jain(xs: &[f64]) -> f64 {
    let s: f64 = xs.iter().sum();
    let s2: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || s2 == 0.0 {
        1.0
    } else {
        s * s / (xs.len() as f64 * s2)
    }
}

/// The median of a sample (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn confidence_interval_matches_textbook_values() {
        // 1..=5: mean 3, s = sqrt(2.5) = 1.58114, t(4) = 2.776 -> 2.776 * 1.58114 / sqrt(5).
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((s.n, s.mean, s.min, s.max), (5, 3.0, 1.0, 5.0));
        assert!(close(s.stddev, 1.581_139, 1e-6), "{}", s.stddev);
        assert!(close(s.ci95, 1.962_98, 1e-4), "{}", s.ci95);
        // Two values 10 and 12: mean 11, s = 1.41421, t(1) = 12.706 -> 12.706.
        let s = Summary::of(&[10.0, 12.0]).unwrap();
        assert!(close(s.ci95, 12.706, 1e-3), "{}", s.ci95);
        // A constant sample has no spread; one value has no interval.
        assert_eq!(Summary::of(&[7.0; 4]).unwrap().ci95, 0.0);
        assert_eq!(Summary::of(&[7.0]).unwrap().ci95, 0.0);
        assert!(Summary::of(&[]).is_none());
        // The table's ends and the normal limit.
        assert_eq!(t975(1), 12.706);
        assert_eq!(t975(30), 2.042);
        assert_eq!(t975(1000), 1.960);
        assert!(t975(0).is_nan());
    }

    #[test]
    fn jain_index_bounds() {
        assert_eq!(jain(&[130.0, 130.0, 130.0, 130.0]), 1.0);
        assert!(close(jain(&[1.0, 0.0, 0.0, 0.0]), 0.25, 1e-12));
        // (1+2+3)^2 / (3 * 14) = 36/42.
        assert!(close(jain(&[1.0, 2.0, 3.0]), 36.0 / 42.0, 1e-12));
        assert_eq!(jain(&[]), 1.0);
        assert_eq!(jain(&[0.0, 0.0]), 1.0);
    }

    #[test]
    fn median_of_odd_and_even_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
