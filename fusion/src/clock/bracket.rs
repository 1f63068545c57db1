//! Bracketed latch estimator: the latch instant lies inside `[host_before, host_after]`; keep
//! the smallest round trip of each burst, use its midpoint, and fit offset and rate by weighted
//! least squares over an adaptive window of bursts.
//!
//! Weights: beyond the narrowest bracket seen in the epoch, a midpoint can be off by half its
//! excess round trip. The rate is fitted with weights 1/σ² for that bound (many bursts, a
//! stable slope); the offset is then taken with that slope from sharply weighted narrow
//! brackets (exp(−excess/3 µs)), whose bias is closest to half the minimum leg asymmetry.
//! Weights are fixed per burst (they change only when a narrower bracket appears, which
//! rebuilds the sums), so every window's sums slide in O(1) per update.
//!
//! The window is chosen from prediction errors as linuxptp's `linreg.c` does: every candidate
//! window keeps a running mean of its squared one-step prediction error on narrow brackets.
//! Unlike linreg, the longest window within a tolerance of the best is used, because the
//! midpoints' asymmetry bias is invisible to prediction error but averages down with more
//! brackets. Short windows win only while the rate clearly moves (temperature).

use super::{ClockEstimate, ClockEstimator, LatchSample};
use std::collections::VecDeque;

/// Candidate window sizes, bursts (at 2 Hz: 8 s to 128 s). Nothing shorter: a slope through
/// a few midpoints that each carry tens of µs of leg asymmetry is off by many ppm, and under
/// heavy tails such a window won the prediction-error contest by luck and then drifted.
const WINDOWS: [usize; 5] = [16, 32, 64, 128, 256];
/// Bursts kept: the longest window plus the one being scored.
const HISTORY: usize = 257;
/// Weight of a new squared prediction error in each window's running mean.
const ERROR_EMA: f64 = 0.05;
/// Bursts whose round trip exceeds the narrowest by more than this (ns) are not scored.
const SCORING_EXCESS_NS: i64 = 10_000;
/// The longest window whose mean squared prediction error is within this factor of the best
/// is used: a longer window averages more brackets, so it wins unless the rate clearly moves.
const LONGER_WINDOW_TOLERANCE: f64 = 1.5;
/// Floor of a midpoint's standard deviation in the rate fit, ns (keeps weights finite).
const MIN_SIGMA_NS: f64 = 1_000.0;
/// In the offset estimate, a burst's weight falls by e for every this much (ns) its round trip
/// exceeds the narrowest.
const OFFSET_WEIGHT_SCALE_NS: f64 = 1_000.0;
/// Sums are rebuilt from scratch this often (bursts), bounding rounding drift.
const REBUILD_EVERY: u64 = 1024;

/// The best (smallest round trip) latch of one burst, as a weighted point.
#[derive(Debug, Clone, Copy)]
struct BurstBest {
    device_ns: i64,
    midpoint_ns: i64,
    round_trip_ns: i64,
}

/// Weighted least-squares sums over x (s since the epoch origin) and y (ns of offset).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    w: f64,
    wx: f64,
    wy: f64,
    wxx: f64,
    wxy: f64,
    wyy: f64,
    /// Sharp (offset) weights: Σv, Σvx, Σvy.
    v: f64,
    vx: f64,
    vy: f64,
}

/// One burst as a point: x (s), y (ns), rate-fit weight, offset weight.
type Point = (f64, f64, f64, f64);

impl Sums {
    fn add(&mut self, (x, y, w, v): Point, sign: f64) {
        let (w, v) = (w * sign, v * sign);
        self.w += w;
        self.wx += w * x;
        self.wy += w * y;
        self.wxx += w * x * x;
        self.wxy += w * x * y;
        self.wyy += w * y * y;
        self.v += v;
        self.vx += v * x;
        self.vy += v * y;
    }

    /// Offset at `x` with the rate-fit slope `b`, from the sharply weighted narrow brackets.
    fn offset_at(&self, b: f64, x: f64) -> Option<f64> {
        (self.v > 0.0).then(|| (self.vy - b * self.vx) / self.v + b * x)
    }

    /// Line `y = a + b·x`, and the weighted RMS residual.
    fn solve(&self) -> Option<(f64, f64, f64)> {
        if self.w <= 0.0 {
            return None;
        }
        let mx = self.wx / self.w;
        let my = self.wy / self.w;
        let sxx = self.wxx - self.w * mx * mx;
        let sxy = self.wxy - self.w * mx * my;
        let b = if sxx > 1e-12 * self.w { sxy / sxx } else { 0.0 };
        let a = my - b * mx;
        let ss = (self.wyy - a * self.wy - b * self.wxy).max(0.0);
        Some((a, b, (ss / self.w).sqrt()))
    }
}

/// Bracket estimator: minimum-RTT midpoint per burst, least-squares line over an adaptive
/// window weighted by each burst's excess round trip; uncertainty is half the narrowest round
/// trip plus the weighted fit residual.
#[derive(Debug, Clone)]
pub struct Bracket {
    bursts: VecDeque<BurstBest>,
    /// host − device at the first burst, ns: offsets are stored relative to it.
    base: Option<i64>,
    /// Device time of the x origin, ns.
    origin_ns: i64,
    /// Narrowest round trip of the epoch, ns.
    floor_ns: i64,
    sums: [Sums; WINDOWS.len()],
    prediction_mse: [f64; WINDOWS.len()],
    chosen: usize,
    bursts_seen: u64,
    cached: Option<ClockEstimate>,
}

impl Bracket {
    /// Registered name.
    pub const NAME: &'static str = "bracket";

    /// The window (bursts) currently in use.
    pub fn window(&self) -> usize {
        WINDOWS[self.chosen]
    }

    fn point(&self, b: &BurstBest) -> Point {
        let base = self.base.unwrap_or(0);
        let excess = super::diff_f64(b.round_trip_ns, self.floor_ns);
        let sigma = excess / 2.0 + MIN_SIGMA_NS;
        (
            super::diff_f64(b.device_ns, self.origin_ns) * 1e-9,
            super::diff2_f64(b.midpoint_ns, b.device_ns, base),
            1.0 / (sigma * sigma),
            (-excess / OFFSET_WEIGHT_SCALE_NS).exp(),
        )
    }

    /// Recomputes every window's sums from the kept bursts.
    fn rebuild(&mut self) {
        // re-centre x and y on the oldest kept burst, so the sums stay small over long runs
        if let Some(first) = self.bursts.front() {
            self.origin_ns = first.device_ns;
            self.base = Some(first.midpoint_ns.saturating_sub(first.device_ns));
        }
        let n = self.bursts.len();
        let mut sums = [Sums::default(); WINDOWS.len()];
        for (i, b) in self.bursts.iter().enumerate() {
            let p = self.point(b);
            for (k, w) in WINDOWS.iter().enumerate() {
                if n - i <= *w {
                    sums[k].add(p, 1.0);
                }
            }
        }
        self.sums = sums;
    }

    /// Adds a new last burst (sliding every window).
    fn push(&mut self, b: BurstBest) {
        self.bursts.push_back(b);
        let p = self.point(&b);
        let n = self.bursts.len();
        for (k, w) in WINDOWS.iter().enumerate() {
            self.sums[k].add(p, 1.0);
            if n > *w {
                let leaving = self.point(&self.bursts[n - 1 - w]);
                self.sums[k].add(leaving, -1.0);
            }
        }
        if self.bursts.len() > HISTORY {
            self.bursts.pop_front();
        }
    }

    /// Replaces the last burst's best (a narrower bracket in the same burst).
    fn replace_last(&mut self, b: BurstBest) {
        let Some(old) = self.bursts.back().copied() else {
            return;
        };
        let (p_old, p_new) = (self.point(&old), self.point(&b));
        for s in &mut self.sums {
            s.add(p_old, -1.0);
            s.add(p_new, 1.0);
        }
        if let Some(last) = self.bursts.back_mut() {
            *last = b;
        }
    }

    /// Scores every window on the burst that just became final (the last one), predicting it
    /// from the window's bursts before it.
    fn score_windows(&mut self) {
        let n = self.bursts.len();
        let Some(last) = self.bursts.back().copied() else {
            return;
        };
        if n < WINDOWS[0] + 1
            || last.round_trip_ns.saturating_sub(self.floor_ns) > SCORING_EXCESS_NS
        {
            return;
        }
        let p_last = self.point(&last);
        for (k, w) in WINDOWS.iter().enumerate() {
            let mut before = self.sums[k];
            before.add(p_last, -1.0);
            if n > *w {
                before.add(self.point(&self.bursts[n - 1 - w]), 1.0);
            }
            if let Some((a, b, _)) = before.solve() {
                let predicted = before.offset_at(b, p_last.0).unwrap_or(a + b * p_last.0);
                let e = predicted - p_last.1;
                self.prediction_mse[k] =
                    (1.0 - ERROR_EMA) * self.prediction_mse[k] + ERROR_EMA * e * e;
            }
        }
        // a window longer than the history holds all of it: every window is usable, and equal
        // scores go to the longest
        let best = self
            .prediction_mse
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        self.chosen = (0..WINDOWS.len())
            .rev()
            .find(|k| self.prediction_mse[*k] <= LONGER_WINDOW_TOLERANCE * best)
            .unwrap_or(0);
    }

    fn refresh(&mut self) {
        self.cached = (|| {
            let base = self.base?;
            let last = self.bursts.back()?;
            let sums = &self.sums[self.chosen];
            let (a, b, residual) = sums.solve()?;
            let x_last = super::diff_f64(last.device_ns, self.origin_ns) * 1e-9;
            let offset = sums.offset_at(b, x_last).unwrap_or(a + b * x_last);
            Some(ClockEstimate {
                device_ref_ns: last.device_ns,
                host_ref_ns: last
                    .device_ns
                    .saturating_add(base)
                    .saturating_add(offset.round() as i64),
                // b is ns of offset per s of device time
                rate_ppm: b * 1e-3,
                uncertainty_ns: self.floor_ns as f64 / 2.0 + residual,
                residual_rms_ns: residual,
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
            origin_ns: 0,
            floor_ns: i64::MAX,
            sums: [Sums::default(); WINDOWS.len()],
            prediction_mse: [0.0; WINDOWS.len()],
            chosen: 0,
            bursts_seen: 0,
            cached: None,
        }
    }
}

impl ClockEstimator for Bracket {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe_latch(&mut self, s: &LatchSample) {
        let round_trip_ns = s.host_after_ns.saturating_sub(s.host_before_ns);
        if round_trip_ns < 0 {
            return; // a bracket that runs backwards carries no information
        }
        let best = BurstBest {
            device_ns: s.device_ns,
            midpoint_ns: s.host_before_ns.saturating_add(round_trip_ns / 2),
            round_trip_ns,
        };
        if self.base.is_none() {
            self.base = Some(best.midpoint_ns.saturating_sub(best.device_ns));
            self.origin_ns = best.device_ns;
        }
        let narrower = round_trip_ns < self.floor_ns;
        self.floor_ns = self.floor_ns.min(round_trip_ns);
        match self.bursts.back().copied() {
            Some(last) if s.burst_index != 0 => {
                if best.round_trip_ns < last.round_trip_ns {
                    self.replace_last(best);
                }
            }
            _ => {
                // the previous burst is final: score the windows on it first
                self.score_windows();
                self.push(best);
                self.bursts_seen += 1;
                if self.bursts_seen.is_multiple_of(REBUILD_EVERY) {
                    self.rebuild();
                }
            }
        }
        if narrower {
            // every weight is relative to the floor: rebuild with the new one
            self.rebuild();
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

    #[test]
    fn sliding_sums_match_a_rebuild() {
        let mut b = Bracket::default();
        for i in 0..700i64 {
            for k in 0..3u32 {
                let t = i * 500_000_000 + i64::from(k) * 1_000_000;
                let jitter = (i * 7919 + i64::from(k) * 104_729) % 60_000;
                b.observe_latch(&LatchSample {
                    host_before_ns: t,
                    device_ns: t + 40_000 + 3_000_000_000 + t / 100_000,
                    host_after_ns: t + 90_000 + jitter,
                    host_after_read_ns: t + 300_000,
                    burst_index: k,
                });
            }
        }
        let slid = b.estimate().expect("estimate");
        b.rebuild();
        b.refresh();
        let rebuilt = b.estimate().expect("estimate");
        assert!(
            (slid.host_ref_ns - rebuilt.host_ref_ns).abs() <= 1,
            "{slid:?} vs {rebuilt:?}"
        );
        assert!(
            (slid.rate_ppm - rebuilt.rate_ppm).abs() < 1e-6,
            "{slid:?} vs {rebuilt:?}"
        );
    }
}
