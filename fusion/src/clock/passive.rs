//! Passive estimator for devices without a latch: the lower envelope of
//! (arrival − device time) over frame arrivals (Olson's minimum-delay method).

use super::{ArrivalSample, ClockEstimate, ClockEstimator, LineFit};
use std::collections::VecDeque;

/// Passive minimum-delay estimator: keeps the last `window` arrivals, takes the minimum delay
/// of each block of `block` arrivals, fits a line through the block minima and lowers it onto
/// the envelope. The mapping includes the minimum transport delay, which no passive method can
/// observe: the calibration's time offset accounts for it.
#[derive(Debug, Clone)]
pub struct Passive {
    /// Arrivals kept.
    pub window: usize,
    /// Arrivals per block whose minimum enters the fit.
    pub block: usize,
    arrivals: VecDeque<ArrivalSample>,
    base: Option<i64>,
}

impl Passive {
    /// Registered name.
    pub const NAME: &'static str = "passive";
}

impl Default for Passive {
    fn default() -> Self {
        Self {
            window: 600,
            block: 20,
            arrivals: VecDeque::new(),
            base: None,
        }
    }
}

impl ClockEstimator for Passive {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe_arrival(&mut self, s: &ArrivalSample) {
        self.base.get_or_insert(s.host_arrival_ns - s.device_ns);
        self.arrivals.push_back(*s);
        while self.arrivals.len() > self.window {
            self.arrivals.pop_front();
        }
        // one slice for `estimate` (a copy of at most `window` samples when the ring wraps)
        self.arrivals.make_contiguous();
    }

    fn uses_latches(&self) -> bool {
        false
    }

    fn uses_arrivals(&self) -> bool {
        true
    }

    fn reset(&mut self) {
        *self = Self {
            window: self.window,
            block: self.block,
            ..Self::default()
        };
    }

    fn estimate(&self) -> Option<ClockEstimate> {
        let base = self.base?;
        let delay = |a: &ArrivalSample| (a.host_arrival_ns - a.device_ns - base) as f64;
        let (arrivals, rest) = self.arrivals.as_slices();
        debug_assert!(rest.is_empty(), "kept contiguous by `observe_arrival`");
        // block minima, blocks counted from the oldest arrival kept (the first minimum of a
        // block when several tie)
        let minima: Vec<(i64, f64)> = arrivals
            .chunks(self.block.max(1))
            .filter_map(|c| {
                c.iter()
                    .map(|a| (a.device_ns, delay(a)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
            })
            .collect();
        let mut fit = LineFit::fit(&minima)?;
        // Lower the line onto the envelope: no arrival may precede its mapped time.
        let lift = arrivals
            .iter()
            .map(|a| fit.at(a.device_ns) - delay(a))
            .fold(0.0f64, f64::max);
        fit.intercept -= lift;
        let last = self.arrivals.back()?;
        Some(ClockEstimate {
            device_ref_ns: last.device_ns,
            host_ref_ns: last.device_ns + base + fit.intercept.round() as i64,
            rate_ppm: fit.slope * 1e6,
            uncertainty_ns: fit.residual_rms + lift,
            residual_rms_ns: fit.residual_rms,
            samples: self.arrivals.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_tracks_minimum_delay() {
        let mut p = Passive::default();
        for i in 0..600i64 {
            let device_ns = 5_000_000_000 + i * 33_333_333;
            // 3 ms minimum delay plus a sawtooth of extra delay
            let extra = (i % 7) * 400_000;
            p.observe_arrival(&ArrivalSample {
                device_ns,
                host_arrival_ns: device_ns - 4_000_000_000 + 3_000_000 + extra,
            });
        }
        let e = p.estimate().expect("estimate");
        let d = 5_000_000_000 + 599 * 33_333_333;
        let mapped = e.host_ns_at(d);
        let envelope = d - 4_000_000_000 + 3_000_000;
        assert!(
            (mapped - envelope).abs() < 10_000,
            "{} ns off",
            mapped - envelope
        );
    }
}
