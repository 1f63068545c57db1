//! Camera-derived radial motion: the growth rate of a tracked box's height.
//!
//! For an object of fixed size, box height ∝ 1 / range, so d ln(height)/dt = −(d range/dt) /
//! range. Per camera object id, a least-squares slope of ln(height) over a short window gives
//! that rate; multiplied by −range (from radar) it is a radial speed the velocity gate compares
//! with the radar's doppler.

use std::collections::{BTreeMap, VecDeque};

/// Window and sufficiency rules of the estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleRateConfig {
    /// History kept per object, ns.
    pub window_ns: i64,
    /// Samples needed for an estimate.
    pub min_samples: usize,
    /// Time span needed for an estimate, ns.
    pub min_span_ns: i64,
}

impl Default for ScaleRateConfig {
    fn default() -> Self {
        Self {
            window_ns: 350_000_000,
            min_samples: 8,
            min_span_ns: 230_000_000,
        }
    }
}

/// A relative growth rate and its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// d ln(height)/dt, 1/s.
    pub per_s: f64,
    /// Standard error of `per_s`, 1/s.
    pub sigma_per_s: f64,
}

/// Box-height histories by camera object id.
#[derive(Debug, Clone, Default)]
pub struct ScaleRate {
    cfg: ScaleRateConfig,
    history: BTreeMap<u64, VecDeque<(i64, f64)>>,
}

impl ScaleRate {
    /// An estimator with these rules.
    pub fn new(cfg: ScaleRateConfig) -> Self {
        Self {
            cfg,
            history: BTreeMap::new(),
        }
    }

    /// Adds the box height (px) of `object_id` at `t_ns` and returns d ln(height)/dt (1/s) from
    /// the window ending there with its standard error (1/s, from the fit residual), if there is
    /// enough history. Samples must come in time order per object; non-positive or non-finite
    /// heights are ignored.
    pub fn observe(&mut self, object_id: u64, t_ns: i64, height_px: f64) -> Option<Rate> {
        if !(height_px.is_finite() && height_px > 0.0) {
            return None;
        }
        let h = self.history.entry(object_id).or_default();
        if h.back().is_some_and(|&(t, _)| t >= t_ns) {
            return None;
        }
        h.push_back((t_ns, height_px.ln()));
        while h
            .front()
            .is_some_and(|&(t, _)| t < t_ns - self.cfg.window_ns)
        {
            h.pop_front();
        }
        let span = t_ns - h.front().map_or(t_ns, |f| f.0);
        if h.len() < self.cfg.min_samples || span < self.cfg.min_span_ns {
            return None;
        }
        let h = h.make_contiguous();
        let n = h.len() as f64;
        let t0 = h[0].0;
        let ts = |t: i64| (t - t0) as f64 * 1e-9;
        // both means in one pass; each sum in sample order from -0.0, as `Iterator::sum` adds
        let (mut sum_t, mut sum_v) = (-0.0, -0.0);
        for &(t, v) in h.iter() {
            sum_t += ts(t);
            sum_v += v;
        }
        let (mean_t, mean_v) = (sum_t / n, sum_v / n);
        let (mut stt, mut stv) = (0.0, 0.0);
        for &(t, v) in h.iter() {
            let dt = ts(t) - mean_t;
            stt += dt * dt;
            stv += dt * (v - mean_v);
        }
        if stt <= 0.0 {
            return None;
        }
        let slope = stv / stt;
        let sse: f64 = h
            .iter()
            .map(|&(t, v)| (v - mean_v - slope * (ts(t) - mean_t)).powi(2))
            .sum();
        Some(Rate {
            per_s: slope,
            sigma_per_s: (sse / (n - 2.0) / stt).sqrt(),
        })
    }

    /// Forgets objects not seen since before `t_ns` − window.
    pub fn prune(&mut self, t_ns: i64) {
        let horizon = t_ns - self.cfg.window_ns;
        self.history
            .retain(|_, h| h.back().is_some_and(|&(t, _)| t >= horizon));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approaching_object_has_a_positive_rate() {
        // 1.5 m tall at 30 m closing at 5 m/s, 1100 px focal length, 30 fps
        let mut s = ScaleRate::new(ScaleRateConfig::default());
        let mut last = None;
        for k in 0..20i64 {
            let t = k * 33_333_333;
            let range = 30.0 - 5.0 * t as f64 * 1e-9;
            last = s.observe(7, t, 1100.0 * 1.5 / range);
            // 0.23 s of history spans 8 frames
            assert_eq!(last.is_some(), k >= 7, "frame {k}");
        }
        let rate = last.expect("enough history").per_s;
        let range_now = 30.0 - 5.0 * 19.0 / 30.0;
        // camera radial speed −range·rate ≈ −5 m/s (the window mean range lags: ~5 %)
        assert!(
            (-range_now * rate + 5.0).abs() < 0.4,
            "{}",
            -range_now * rate
        );
        assert!(s.observe(7, 0, 50.0).is_none(), "out of order");
        assert!(s.observe(8, 0, f64::NAN).is_none());
        s.prune(10_000_000_000);
        assert!(s.history.is_empty());
    }

    /// The least-squares slope and its standard error over `(t_ns, ln height)` samples, each
    /// quantity as the definition reads: a pass for each mean, one for the sums of squares,
    /// one for the residual.
    fn fit_by_definition(h: &[(i64, f64)]) -> Option<Rate> {
        let n = h.len() as f64;
        let ts = |t: i64| (t - h[0].0) as f64 * 1e-9;
        let mean_t = h.iter().map(|s| ts(s.0)).sum::<f64>() / n;
        let mean_v = h.iter().map(|s| s.1).sum::<f64>() / n;
        let (mut stt, mut stv) = (0.0, 0.0);
        for &(t, v) in h {
            stt += (ts(t) - mean_t).powi(2);
            stv += (ts(t) - mean_t) * (v - mean_v);
        }
        if stt <= 0.0 {
            return None;
        }
        let slope = stv / stt;
        let sse: f64 = h
            .iter()
            .map(|&(t, v)| (v - mean_v - slope * (ts(t) - mean_t)).powi(2))
            .sum();
        Some(Rate {
            per_s: slope,
            sigma_per_s: (sse / (n - 2.0) / stt).sqrt(),
        })
    }

    proptest::proptest! {
        /// Bit for bit: the estimate keeps the definition's sums and their order, whatever
        /// the window has wrapped around in its ring buffer.
        #[test]
        fn the_rate_is_the_least_squares_fit_of_the_window(
            steps in proptest::collection::vec((1i64..80_000_000, 1.0f64..900.0), 1..60)
        ) {
            let cfg = ScaleRateConfig::default();
            let mut s = ScaleRate::new(cfg);
            let mut window: Vec<(i64, f64)> = Vec::new();
            let mut t = 0;
            for (dt, height) in steps {
                t += dt;
                window.push((t, height.ln()));
                window.retain(|&(ts, _)| ts >= t - cfg.window_ns);
                let enough = window.len() >= cfg.min_samples
                    && t - window[0].0 >= cfg.min_span_ns;
                let want = if enough { fit_by_definition(&window) } else { None };
                let got = s.observe(3, t, height);
                proptest::prop_assert_eq!(
                    got.map(|r| (r.per_s.to_bits(), r.sigma_per_s.to_bits())),
                    want.map(|r| (r.per_s.to_bits(), r.sigma_per_s.to_bits()))
                );
            }
        }
    }
}
