//! Least-squares line fit of offset against device time, numerically centred.

/// A least-squares line `y = intercept + slope·(x − x_ref)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    /// Reference abscissa (the last sample's x), in the caller's unit.
    pub x_ref: i64,
    /// Value of the line at `x_ref`.
    pub intercept: f64,
    /// Slope (y per x).
    pub slope: f64,
    /// RMS residual.
    pub residual_rms: f64,
}

impl LineFit {
    /// Fits `points` (x, y). `y` should be small (an offset relative to a base), `x` any i64.
    /// With one point the slope is 0. `None` when `points` is empty.
    pub fn fit(points: &[(i64, f64)]) -> Option<Self> {
        Self::fit_by(points, |&(x, y)| (x, y, 1.0))
    }

    /// Weighted least squares over `(x, y, weight)`; weights must be positive. The residual is
    /// the unweighted RMS. `None` when `points` is empty or the weights sum to zero.
    pub fn fit_weighted(points: &[(i64, f64, f64)]) -> Option<Self> {
        Self::fit_by(points, |&p| p)
    }

    /// [`LineFit::fit_weighted`] of `point(p)` for each of `points`, with no copy of them.
    fn fit_by<P>(points: &[P], point: impl Fn(&P) -> (i64, f64, f64)) -> Option<Self> {
        let (x_ref, _, _) = point(points.last()?);
        let each = || points.iter().map(&point);
        let wsum: f64 = each().map(|p| p.2).sum();
        if wsum.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let dx = |x: i64| super::diff_f64(x, x_ref);
        let mean_x = each().map(|(x, _, w)| w * dx(x)).sum::<f64>() / wsum;
        let mean_y = each().map(|(_, y, w)| w * y).sum::<f64>() / wsum;
        let (mut sxx, mut sxy) = (0.0, 0.0);
        for (x, y, w) in each() {
            sxx += w * (dx(x) - mean_x) * (dx(x) - mean_x);
            sxy += w * (dx(x) - mean_x) * (y - mean_y);
        }
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let intercept = mean_y - slope * mean_x;
        let ss: f64 = each()
            .map(|(x, y, _)| (y - (intercept + slope * dx(x))).powi(2))
            .sum();
        Some(Self {
            x_ref,
            intercept,
            slope,
            residual_rms: (ss / points.len() as f64).sqrt(),
        })
    }

    /// The line's value at `x`.
    pub fn at(&self, x: i64) -> f64 {
        self.intercept + self.slope * super::diff_f64(x, self.x_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn recovers_an_exact_line(a in -1e6f64..1e6, b in -1e-4f64..1e-4, x0 in 0i64..1_000_000_000_000) {
            let pts: Vec<(i64, f64)> = (0..50).map(|i| {
                let x = x0 + i * 100_000_000;
                (x, a + b * (x - x0) as f64)
            }).collect();
            let f = LineFit::fit(&pts).expect("fit");
            prop_assert!((f.at(x0) - a).abs() < 1e-3 * (1.0 + a.abs()));
            prop_assert!((f.slope - b).abs() < 1e-9);
        }
    }
}
