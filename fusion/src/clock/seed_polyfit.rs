//! The seed method, kept as the baseline: host time read after the latch value read,
//! least-squares line over the last 50 pairs, EMA update of the offset.

use super::{ClockEstimate, ClockEstimator, LatchSample, LineFit};
use std::collections::VecDeque;

/// The seed's estimator: `(device_ns, host_after_read_ns)` pairs, a least-squares line over the
/// last `window` pairs, and an exponential moving average of the offset.
#[derive(Debug, Clone)]
pub struct SeedPolyfit {
    /// Pairs kept for the fit.
    pub window: usize,
    /// EMA weight of a new offset, in (0, 1].
    pub ema_alpha: f64,
    pairs: VecDeque<(i64, i64)>,
    ema: Option<(i64, f64)>,
    last_fit: Option<LineFit>,
    base: i64,
}

impl SeedPolyfit {
    /// Registered name.
    pub const NAME: &'static str = "seed-polyfit";
}

impl Default for SeedPolyfit {
    fn default() -> Self {
        Self {
            window: 50,
            ema_alpha: 0.1,
            pairs: VecDeque::new(),
            ema: None,
            last_fit: None,
            base: 0,
        }
    }
}

impl ClockEstimator for SeedPolyfit {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe_latch(&mut self, s: &LatchSample) {
        if self.pairs.is_empty() {
            self.base = s.host_after_read_ns.saturating_sub(s.device_ns);
        }
        self.pairs.push_back((s.device_ns, s.host_after_read_ns));
        while self.pairs.len() > self.window {
            self.pairs.pop_front();
        }
        let pts: Vec<(i64, f64)> = self
            .pairs
            .iter()
            .map(|&(d, h)| (d, super::diff2_f64(h, d, self.base)))
            .collect();
        let Some(fit) = LineFit::fit(&pts) else {
            return;
        };
        // EMA of the offset, both carried to the newest device time.
        let ema = match self.ema {
            None => fit.intercept,
            Some((d_prev, o_prev)) => {
                let carried = o_prev + fit.slope * super::diff_f64(s.device_ns, d_prev);
                self.ema_alpha * fit.intercept + (1.0 - self.ema_alpha) * carried
            }
        };
        self.ema = Some((s.device_ns, ema));
        self.last_fit = Some(fit);
    }

    fn reset(&mut self) {
        *self = Self {
            window: self.window,
            ema_alpha: self.ema_alpha,
            ..Self::default()
        };
    }

    fn estimate(&self) -> Option<ClockEstimate> {
        let fit = self.last_fit?;
        let (d_ref, offset) = self.ema?;
        Some(ClockEstimate {
            device_ref_ns: d_ref,
            host_ref_ns: d_ref
                .saturating_add(self.base)
                .saturating_add(offset.round() as i64),
            rate_ppm: fit.slope * 1e6,
            uncertainty_ns: fit.residual_rms,
            residual_rms_ns: fit.residual_rms,
            samples: self.pairs.len(),
        })
    }
}
