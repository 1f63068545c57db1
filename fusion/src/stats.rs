//! Distribution summaries: quantiles the way numpy computes them by default (linear
//! interpolation between closest ranks), so a user can recompute every number.

/// Quantile `q` in `[0, 1]` of already sorted values (numpy's default "linear" method).
/// Returns `None` for an empty slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Summary of one distribution: P50/P95/P99/P99.9, mean, max, sample count.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Number of samples.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summarises `values` (any order; NaNs are ignored). `None` when no finite value is given.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let q = |p| quantile_sorted(&v, p).unwrap_or(f64::NAN);
        Some(Self {
            samples: v.len() as u64,
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            max: v[v.len() - 1],
        })
    }

    /// A statistic by its name in metric paths (`p50`, `p95`, `p99`, `p999`, `mean`, `max`).
    pub fn stat(&self, name: &str) -> Option<f64> {
        Some(match name {
            "p50" => self.p50,
            "p95" => self.p95,
            "p99" => self.p99,
            "p999" => self.p999,
            "mean" => self.mean,
            "max" => self.max,
            _ => return None,
        })
    }

    /// Names accepted by [`Summary::stat`].
    pub const STATS: [&'static str; 6] = ["p50", "p95", "p99", "p999", "mean", "max"];
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_numpy_linear_method() {
        // numpy.percentile([1, 2, 3, 4], [50, 95]) == [2.5, 3.85]
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), Some(2.5));
        assert!((quantile_sorted(&s, 0.95).unwrap_or(0.0) - 3.85).abs() < 1e-12);
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }

    proptest! {
        #[test]
        fn quantiles_are_ordered_and_bounded(mut v in proptest::collection::vec(-1e6f64..1e6, 1..200)) {
            let s = Summary::of(&v).expect("non-empty");
            v.sort_by(f64::total_cmp);
            prop_assert!(v[0] <= s.p50 && s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.p999);
            prop_assert!(s.p999 <= s.max && s.max == v[v.len() - 1]);
            prop_assert_eq!(s.samples as usize, v.len());
        }
    }
}
