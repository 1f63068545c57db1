//! Bracketed latch estimator: the latch instant lies inside `[host_before, host_after]`; keep
//! the smallest round trip of each burst, use its midpoint, fit offset and rate over a sliding
//! window of bursts.

use super::{ClockEstimate, ClockEstimator, LatchSample, LineFit};
use std::collections::VecDeque;

/// The best (smallest round trip) latch of one burst.
#[derive(Debug, Clone, Copy)]
struct BurstBest {
    device_ns: i64,
    midpoint_ns: i64,
    round_trip_ns: i64,
}

/// Bracket estimator: minimum-RTT midpoint per burst, least-squares line over the last
/// `window` bursts; uncertainty is half the round trip plus the fit residual.
#[derive(Debug, Clone)]
pub struct Bracket {
    /// Bursts kept for the fit.
    pub window: usize,
    bursts: VecDeque<BurstBest>,
    base: Option<i64>,
}

impl Bracket {
    /// Registered name.
    pub const NAME: &'static str = "bracket";
}

impl Default for Bracket {
    fn default() -> Self {
        Self {
            window: 64,
            bursts: VecDeque::new(),
            base: None,
        }
    }
}

impl ClockEstimator for Bracket {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe_latch(&mut self, s: &LatchSample) {
        let round_trip_ns = s.host_after_ns - s.host_before_ns;
        if round_trip_ns < 0 {
            return; // a bracket that runs backwards carries no information
        }
        let best = BurstBest {
            device_ns: s.device_ns,
            midpoint_ns: s.host_before_ns + round_trip_ns / 2,
            round_trip_ns,
        };
        self.base.get_or_insert(best.midpoint_ns - best.device_ns);
        match self.bursts.back_mut() {
            Some(last) if s.burst_index != 0 => {
                if best.round_trip_ns < last.round_trip_ns {
                    *last = best;
                }
            }
            _ => self.bursts.push_back(best),
        }
        while self.bursts.len() > self.window {
            self.bursts.pop_front();
        }
    }

    fn estimate(&self) -> Option<ClockEstimate> {
        let base = self.base?;
        let pts: Vec<(i64, f64)> = self
            .bursts
            .iter()
            .map(|b| (b.device_ns, (b.midpoint_ns - b.device_ns - base) as f64))
            .collect();
        let fit = LineFit::fit(&pts)?;
        let last = self.bursts.back()?;
        let min_rtt = self.bursts.iter().map(|b| b.round_trip_ns).min()?;
        Some(ClockEstimate {
            device_ref_ns: last.device_ns,
            host_ref_ns: last.device_ns + base + fit.intercept.round() as i64,
            rate_ppm: fit.slope * 1e6,
            uncertainty_ns: min_rtt as f64 / 2.0 + fit.residual_rms,
            residual_rms_ns: fit.residual_rms,
            samples: self.bursts.len(),
        })
    }
}
