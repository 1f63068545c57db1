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
    /// Arrivals per block whose minimum enters the fit (at least 1).
    block: usize,
    /// The kept arrivals as (device time ns, delay ns above `base`), oldest first: the
    /// delay is converted once, when the arrival is observed, not at every estimate.
    arrivals: VecDeque<(i64, f64)>,
    /// Arrivals observed since the last reset (the newest kept is number `seen − 1`).
    seen: u64,
    /// The minimum of every run of `block` consecutive kept arrivals.
    runs: RunMinima,
    base: Option<i64>,
    /// The estimate over the kept arrivals, computed once per arrival: a replay asks for it
    /// three or four times a frame (step check, lock decision, status, mapping).
    cached: Option<ClockEstimate>,
}

/// The minimum of every run of `block` consecutive arrivals (the first of equal delays),
/// kept as the arrivals come: a queue of the candidates for the newest run's minimum gives
/// each run's minimum in constant amortised time, so an estimate picks its blocks' minima
/// instead of scanning every kept arrival.
#[derive(Debug, Clone, Default)]
struct RunMinima {
    /// (arrival number, arrival) of the candidates, delays strictly increasing from the
    /// front: the front is the first minimum of the run ending at the newest arrival.
    candidates: VecDeque<(u64, (i64, f64))>,
    /// The minimum of the run starting at arrival number `first + i`, for each kept run.
    minima: VecDeque<(i64, f64)>,
    /// Arrival number the first kept run starts at.
    first: u64,
}

impl RunMinima {
    /// Takes arrival number `n` (numbers count up by one from 0).
    fn push(&mut self, n: u64, arrival: (i64, f64), block: usize) {
        while self.candidates.back().is_some_and(|c| c.1.1 > arrival.1) {
            self.candidates.pop_back();
        }
        self.candidates.push_back((n, arrival));
        let block = block as u64;
        while self.candidates.front().is_some_and(|c| c.0 + block <= n) {
            self.candidates.pop_front();
        }
        if let (Some(start), Some(&(_, min))) =
            ((n + 1).checked_sub(block), self.candidates.front())
        {
            if self.minima.is_empty() {
                self.first = start;
            }
            self.minima.push_back(min);
        }
    }

    /// Forgets the runs starting before arrival number `oldest`.
    fn drop_before(&mut self, oldest: u64) {
        while self.first < oldest && self.minima.pop_front().is_some() {
            self.first += 1;
        }
    }

    /// The minimum of the run starting at arrival number `start`, if it is complete.
    fn at(&self, start: u64) -> Option<(i64, f64)> {
        let i = usize::try_from(start.checked_sub(self.first)?).ok()?;
        self.minima.get(i).copied()
    }
}

impl Passive {
    /// Registered name.
    pub const NAME: &'static str = "passive";

    /// An estimator keeping the last `window` arrivals and fitting the minimum of each
    /// block of `block` arrivals (a `block` of 0 counts as 1).
    pub fn new(window: usize, block: usize) -> Self {
        Self {
            window,
            block: block.max(1),
            arrivals: VecDeque::new(),
            seen: 0,
            runs: RunMinima::default(),
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
        // block when several tie): a full block's from the run minima, a last partial
        // block's by a scan. Delays are converted integers, never NaN or -0.0, so `<`
        // orders them as `total_cmp` would.
        let block = self.block;
        let oldest = self.seen - arrivals.len() as u64;
        let mut minima: Vec<(i64, f64)> = Vec::with_capacity(arrivals.len().div_ceil(block));
        for (k, c) in arrivals.chunks(block).enumerate() {
            let run = (c.len() == block)
                .then(|| self.runs.at(oldest + (k * block) as u64))
                .flatten();
            debug_assert!(
                run.is_some() || c.len() < block,
                "every full block's run is kept"
            );
            minima.push(run.unwrap_or_else(|| {
                let mut min = c[0];
                for &a in &c[1..] {
                    if a.1 < min.1 {
                        min = a;
                    }
                }
                min
            }));
        }
        let mut fit = LineFit::fit(&minima)?;
        let lift = envelope_lift(&fit, arrivals);
        fit.intercept -= lift;
        let &(last_device_ns, _) = self.arrivals.back()?;
        Some(ClockEstimate {
            device_ref_ns: last_device_ns,
            host_ref_ns: last_device_ns
                .saturating_add(base)
                .saturating_add(fit.intercept.round() as i64),
            rate_ppm: fit.slope * 1e6,
            uncertainty_ns: fit.residual_rms + lift,
            residual_rms_ns: fit.residual_rms,
            samples: self.arrivals.len(),
        })
    }
}

/// How far `fit` must be lowered onto the envelope of `arrivals` (device time ns, delay ns):
/// the largest amount by which the line lies above an arrival's delay, at least 0 (no arrival
/// may precede its mapped time; a NaN from a degenerate fit is skipped, as `f64::max` would).
///
/// The maximum is kept in four lanes, each arrival going to one, then the lanes are merged:
/// one running maximum made every arrival wait for the one before (a `maxsd` chain, four
/// cycles an arrival, 600 arrivals a radar frame). Every lane starts at +0.0 and takes only
/// a larger number, so the merged value is the one running maximum's, bit for bit.
fn envelope_lift(fit: &LineFit, arrivals: &[(i64, f64)]) -> f64 {
    let higher = |lift: f64, below: f64| if below > lift { below } else { lift };
    let mut lanes = [0.0f64; 4];
    let mut quads = arrivals.chunks_exact(4);
    for quad in &mut quads {
        for (lane, &(device_ns, delay)) in lanes.iter_mut().zip(quad) {
            *lane = higher(*lane, fit.at(device_ns) - delay);
        }
    }
    for (lane, &(device_ns, delay)) in lanes.iter_mut().zip(quads.remainder()) {
        *lane = higher(*lane, fit.at(device_ns) - delay);
    }
    lanes.into_iter().fold(0.0, higher)
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
        let base = *self
            .base
            .get_or_insert(s.host_arrival_ns.saturating_sub(s.device_ns));
        let arrival = (
            s.device_ns,
            super::diff2_f64(s.host_arrival_ns, s.device_ns, base),
        );
        self.arrivals.push_back(arrival);
        self.runs.push(self.seen, arrival, self.block);
        self.seen += 1;
        while self.arrivals.len() > self.window {
            self.arrivals.pop_front();
        }
        self.runs
            .drop_before(self.seen - self.arrivals.len() as u64);
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
            host_ref_ns: last
                .device_ns
                .saturating_add(base)
                .saturating_add(fit.intercept.round() as i64),
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

        /// The lift kept in four lanes is the one running maximum's, bit for bit, for any
        /// line (NaN, infinite or zero slope and intercept) and any arrivals, of every
        /// length modulo four.
        #[test]
        fn lift_in_lanes_is_the_running_maximum(
            slope in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(0.0), Just(-0.0), -1e-3f64..1e-3],
            intercept in prop_oneof![Just(f64::NAN), Just(-0.0), -1e6f64..1e6],
            arrivals in prop::collection::vec(
                (-1_000_000_000i64..1_000_000_000, prop_oneof![Just(-0.0), Just(0.0), Just(f64::NAN), -1e6f64..1e6]),
                0..14,
            ),
        ) {
            let fit = LineFit { x_ref: 0, intercept, slope, residual_rms: 0.0 };
            let mut one = 0.0f64;
            for &(device_ns, delay) in &arrivals {
                let below = fit.at(device_ns) - delay;
                if below > one {
                    one = below;
                }
            }
            prop_assert_eq!(envelope_lift(&fit, &arrivals).to_bits(), one.to_bits());
        }

        /// Every kept run's minimum is the first least delay of its arrivals, and every
        /// complete run of the kept arrivals is kept.
        #[test]
        fn run_minima_are_those_of_a_scan(
            delays in prop::collection::vec(0u8..4, 1..120),
            window in 1usize..40,
            block in 1usize..9,
        ) {
            let mut runs = RunMinima::default();
            let all: Vec<(i64, f64)> = delays
                .iter()
                .enumerate()
                .map(|(i, d)| (i as i64, f64::from(*d)))
                .collect();
            for (n, a) in all.iter().enumerate() {
                runs.push(n as u64, *a, block);
                let oldest = (n + 1).saturating_sub(window);
                runs.drop_before(oldest as u64);
                for start in oldest..=n {
                    let run = all.get(start..start + block).filter(|_| start + block <= n + 1);
                    let want = run.map(|r| {
                        r.iter().fold(r[0], |m, a| if a.1 < m.1 { *a } else { m })
                    });
                    prop_assert_eq!(runs.at(start as u64), want, "run at {}", start);
                }
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
