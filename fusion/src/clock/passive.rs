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
    window: usize,
    /// Arrivals per block whose minimum enters the fit.
    block: usize,
    /// The kept arrivals as (device time ns, delay ns above `base`), oldest first: the
    /// delay is converted once, when the arrival is observed, not at every estimate.
    arrivals: VecDeque<(i64, f64)>,
    base: Option<i64>,
    /// The estimate over the kept arrivals, computed once per arrival: a replay asks for it
    /// three or four times a frame (step check, lock decision, status, mapping).
    cached: Option<ClockEstimate>,
}

impl Passive {
    /// Registered name.
    pub const NAME: &'static str = "passive";

    /// An estimator keeping the last `window` arrivals and fitting the minimum of each
    /// block of `block` arrivals (a `block` of 0 counts as 1).
    pub fn new(window: usize, block: usize) -> Self {
        Self {
            window,
            block,
            arrivals: VecDeque::new(),
            base: None,
            cached: None,
        }
    }

    /// The estimate over the kept arrivals (see [`ClockEstimator::estimate`]).
    fn compute(&self) -> Option<ClockEstimate> {
        let base = self.base?;
        let (arrivals, rest) = self.arrivals.as_slices();
        debug_assert!(rest.is_empty(), "kept contiguous by `observe_arrival`");
        // block minima, blocks counted from the oldest arrival kept (the first minimum of a
        // block when several tie). Delays are converted integers, never NaN or -0.0, so `<`
        // orders them as `total_cmp` would.
        let block = self.block.max(1);
        let mut minima: Vec<(i64, f64)> = Vec::with_capacity(arrivals.len().div_ceil(block));
        for c in arrivals.chunks(block) {
            let mut min = c[0];
            for &a in &c[1..] {
                if a.1 < min.1 {
                    min = a;
                }
            }
            minima.push(min);
        }
        let mut fit = LineFit::fit(&minima)?;
        // Lower the line onto the envelope: no arrival may precede its mapped time (a NaN
        // from a degenerate fit is skipped, as `f64::max` would).
        let mut lift = 0.0f64;
        for &(device_ns, delay) in arrivals {
            let below = fit.at(device_ns) - delay;
            if below > lift {
                lift = below;
            }
        }
        fit.intercept -= lift;
        let &(last_device_ns, _) = self.arrivals.back()?;
        Some(ClockEstimate {
            device_ref_ns: last_device_ns,
            host_ref_ns: last_device_ns + base + fit.intercept.round() as i64,
            rate_ppm: fit.slope * 1e6,
            uncertainty_ns: fit.residual_rms + lift,
            residual_rms_ns: fit.residual_rms,
            samples: self.arrivals.len(),
        })
    }
}

impl Default for Passive {
    fn default() -> Self {
        Self::new(600, 20)
    }
}

impl ClockEstimator for Passive {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe_arrival(&mut self, s: &ArrivalSample) {
        let base = *self.base.get_or_insert(s.host_arrival_ns - s.device_ns);
        self.arrivals
            .push_back((s.device_ns, (s.host_arrival_ns - s.device_ns - base) as f64));
        while self.arrivals.len() > self.window {
            self.arrivals.pop_front();
        }
        // one slice for `compute` (a copy of at most `window` samples when the ring wraps)
        self.arrivals.make_contiguous();
        self.cached = self.compute();
    }

    fn uses_latches(&self) -> bool {
        false
    }

    fn uses_arrivals(&self) -> bool {
        true
    }

    fn reset(&mut self) {
        *self = Self::new(self.window, self.block);
    }

    fn estimate(&self) -> Option<ClockEstimate> {
        self.cached
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The estimator's definition, written out plainly over the kept arrivals, delays taken
    /// above `base` (ns).
    fn by_definition(arrivals: &[ArrivalSample], block: usize, base: i64) -> Option<ClockEstimate> {
        let delay = |a: &ArrivalSample| (a.host_arrival_ns - a.device_ns - base) as f64;
        let minima: Vec<(i64, f64)> = arrivals
            .chunks(block)
            .filter_map(|c| {
                c.iter()
                    .map(|a| (a.device_ns, delay(a)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
            })
            .collect();
        let mut fit = LineFit::fit(&minima)?;
        let lift = arrivals
            .iter()
            .map(|a| fit.at(a.device_ns) - delay(a))
            .fold(0.0f64, f64::max);
        fit.intercept -= lift;
        let last = arrivals.last()?;
        Some(ClockEstimate {
            device_ref_ns: last.device_ns,
            host_ref_ns: last.device_ns + base + fit.intercept.round() as i64,
            rate_ppm: fit.slope * 1e6,
            uncertainty_ns: fit.residual_rms + lift,
            residual_rms_ns: fit.residual_rms,
            samples: arrivals.len(),
        })
    }

    proptest! {
        /// Delays drawn from a few values, so blocks often hold tied minima: the first of
        /// them is the one fitted, and the sliding window keeps the block boundaries
        /// counted from the oldest arrival kept.
        #[test]
        fn matches_the_definition_over_a_sliding_window(
            delays_us in prop::collection::vec(0i64..4, 1..90),
            window in 5usize..40,
            block in 1usize..9,
        ) {
            let mut p = Passive::new(window, block);
            let mut all = Vec::new();
            for (i, d) in delays_us.iter().enumerate() {
                let device_ns = 1_000_000_000 + i as i64 * 50_000_000;
                let a = ArrivalSample {
                    device_ns,
                    host_arrival_ns: device_ns + 7_000_000 + d * 1_000 + (i as i64 % 3) * 10,
                };
                p.observe_arrival(&a);
                all.push(a);
                let kept = &all[all.len().saturating_sub(window)..];
                // the base is fixed by the first arrival ever observed
                let base = all[0].host_arrival_ns - all[0].device_ns;
                let want = by_definition(kept, block, base);
                prop_assert_eq!(p.estimate(), want);
            }
        }
    }

    #[test]
    fn reset_forgets_the_estimate() {
        let mut p = Passive::new(10, 2);
        for i in 0..5i64 {
            p.observe_arrival(&ArrivalSample {
                device_ns: i * 1_000_000,
                host_arrival_ns: i * 1_000_000 + 3_000,
            });
        }
        assert!(p.estimate().is_some());
        p.reset();
        assert_eq!(p.estimate(), None);
        p.observe_arrival(&ArrivalSample {
            device_ns: 9_000_000,
            host_arrival_ns: 9_500_000,
        });
        p.observe_arrival(&ArrivalSample {
            device_ns: 10_000_000,
            host_arrival_ns: 10_500_000,
        });
        let e = p.estimate().expect("estimate after two new arrivals");
        assert_eq!(e.samples, 2);
        assert_eq!(e.host_ns_at(10_000_000), 10_500_000);
    }

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
