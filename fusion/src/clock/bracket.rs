//! Bracketed latch estimator: the latch instant lies inside `[host_before, host_after]`; keep
//! the smallest round trip of each burst, use its midpoint, and fit offset and rate by weighted
//! least squares over an adaptive window of bursts.
//!
//! The window is chosen from prediction errors as linuxptp's `linreg.c` does: every candidate
//! window keeps a running mean of its squared one-step prediction error on narrow brackets.
//! Unlike linreg, the longest window within a tolerance of the best is
//! used, because the midpoints' asymmetry bias is invisible to prediction error but averages
//! down with more brackets. Short windows win only while the rate clearly moves (temperature).

use super::{ClockEstimate, ClockEstimator, LatchSample, LineFit};
use std::collections::VecDeque;

/// Candidate window sizes, bursts.
const WINDOWS: [usize; 5] = [4, 8, 16, 32, 64];
/// Weight of a new squared prediction error in each window's running mean.
const ERROR_EMA: f64 = 0.05;
/// Bursts whose round trip exceeds the narrowest by more than this (ns) are not scored.
const SCORING_EXCESS_NS: i64 = 10_000;
/// The longest window whose mean squared prediction error is within this factor of the best
/// is used: a longer window averages more brackets, so it wins unless the rate clearly moves.
const LONGER_WINDOW_TOLERANCE: f64 = 1.5;
/// Floor of a midpoint's standard deviation, ns (keeps weights finite).
const MIN_SIGMA_NS: f64 = 1000.0;

/// The best (smallest round trip) latch of one burst.
#[derive(Debug, Clone, Copy)]
struct BurstBest {
    device_ns: i64,
    midpoint_ns: i64,
    round_trip_ns: i64,
}

/// Bracket estimator: minimum-RTT midpoint per burst, least-squares line over an adaptive
/// window weighted by each burst's excess round trip over the window's best; uncertainty is
/// half the best round trip plus the fit residual.
#[derive(Debug, Clone)]
pub struct Bracket {
    bursts: VecDeque<BurstBest>,
    base: Option<i64>,
    prediction_mse: [f64; WINDOWS.len()],
    chosen: usize,
    cached: Option<ClockEstimate>,
}

impl Bracket {
    /// Registered name.
    pub const NAME: &'static str = "bracket";

    /// The window (bursts) currently in use.
    pub fn window(&self) -> usize {
        WINDOWS[self.chosen]
    }

    fn fit(&self, window: usize, skip_last: usize) -> Option<LineFit> {
        let base = self.base?;
        let end = self.bursts.len().checked_sub(skip_last)?;
        let start = end.saturating_sub(window);
        // A midpoint's error beyond the best bracket's is at most half its excess round trip:
        // weigh each burst by that bound, so the narrowest brackets dominate.
        let floor = self
            .bursts
            .range(start..end)
            .map(|b| b.round_trip_ns)
            .min()?;
        let pts: Vec<(i64, f64, f64)> = self
            .bursts
            .range(start..end)
            .map(|b| {
                let sigma = (b.round_trip_ns - floor) as f64 / 2.0 + MIN_SIGMA_NS;
                (
                    b.device_ns,
                    (b.midpoint_ns - b.device_ns - base) as f64,
                    1.0 / (sigma * sigma),
                )
            })
            .collect();
        LineFit::fit_weighted(&pts)
    }

    /// Scores every window on the burst that just became final (the last one).
    fn score_windows(&mut self) {
        let (Some(last), Some(base)) = (self.bursts.back().copied(), self.base) else {
            return;
        };
        if self.bursts.len() < WINDOWS[0] + 1 {
            return;
        }
        let actual = (last.midpoint_ns - last.device_ns - base) as f64;
        // Only a narrow bracket's midpoint is close enough to the truth to judge predictions:
        // score windows on bursts within SCORING_EXCESS_NS of the narrowest bracket.
        let floor = self
            .bursts
            .iter()
            .map(|b| b.round_trip_ns)
            .min()
            .unwrap_or(0);
        if last.round_trip_ns - floor <= SCORING_EXCESS_NS {
            for (k, w) in WINDOWS.iter().enumerate() {
                if let Some(f) = self.fit(*w, 1) {
                    let e = f.at(last.device_ns) - actual;
                    self.prediction_mse[k] =
                        (1.0 - ERROR_EMA) * self.prediction_mse[k] + ERROR_EMA * e * e;
                }
            }
        }
        let usable = WINDOWS
            .iter()
            .take_while(|w| **w < self.bursts.len() + WINDOWS[0])
            .count();
        let best = (0..usable.max(1))
            .map(|k| self.prediction_mse[k])
            .fold(f64::INFINITY, f64::min);
        self.chosen = (0..usable.max(1))
            .rev()
            .find(|k| self.prediction_mse[*k] <= LONGER_WINDOW_TOLERANCE * best)
            .unwrap_or(0);
    }

    fn refresh(&mut self) {
        self.cached = (|| {
            let base = self.base?;
            let fit = self.fit(WINDOWS[self.chosen], 0)?;
            let last = self.bursts.back()?;
            let n = WINDOWS[self.chosen].min(self.bursts.len());
            let min_rtt = self
                .bursts
                .iter()
                .rev()
                .take(n)
                .map(|b| b.round_trip_ns)
                .min()?;
            Some(ClockEstimate {
                device_ref_ns: last.device_ns,
                host_ref_ns: last.device_ns + base + fit.at(last.device_ns).round() as i64,
                rate_ppm: fit.slope * 1e6,
                uncertainty_ns: min_rtt as f64 / 2.0 + fit.residual_rms,
                residual_rms_ns: fit.residual_rms,
                samples: self.bursts.len(),
            })
        })();
    }
}

impl Default for Bracket {
    fn default() -> Self {
        Self {
            bursts: VecDeque::new(),
            base: None,
            prediction_mse: [0.0; WINDOWS.len()],
            chosen: 0,
            cached: None,
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
            _ => {
                // the previous burst is final: score the windows on it first
                self.score_windows();
                self.bursts.push_back(best);
                while self.bursts.len() > WINDOWS[WINDOWS.len() - 1] + 1 {
                    self.bursts.pop_front();
                }
            }
        }
        self.refresh();
    }

    fn estimate(&self) -> Option<ClockEstimate> {
        self.cached
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_windows_win_while_the_rate_moves() {
        let mut b = Bracket::default();
        // rate ramps 0 -> 60 ppm over 300 s: offset is quadratic in time
        for i in 0..600i64 {
            let t = i * 500_000_000;
            let s = t as f64 * 1e-9;
            let offset = (0.5 * 0.2e-6 * s * s * 1e9) as i64; // rate = 0.2 ppm/s * s
            b.observe_latch(&LatchSample {
                host_before_ns: t,
                device_ns: t + 40_000 - offset,
                host_after_ns: t + 80_000,
                host_after_read_ns: t + 200_000,
                burst_index: 0,
            });
        }
        assert!(b.window() <= 16, "window {}", b.window());
        let e = b.estimate().expect("estimate");
        assert!((e.rate_ppm - 59.9).abs() < 1.0, "rate {}", e.rate_ppm);
    }
}
