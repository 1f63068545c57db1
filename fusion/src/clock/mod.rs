//! Clock estimators: map a device clock (camera ticks, radar cycles) into host
//! CLOCK_MONOTONIC_RAW.
//!
//! One small trait in the shape of linuxptp's servo interface: an estimator takes samples and
//! returns an estimate; it never acts on anything. Implementations are selected by name
//! ([`by_name`]) on the command line and in scenario files.

mod bracket;
mod fit;
mod kalman;
mod passive;
mod policy;
mod seed_polyfit;

pub use bracket::Bracket;
pub use fit::LineFit;
pub use kalman::{Kalman, KalmanConfig};
pub use passive::Passive;
pub use policy::{ClockEvent, ClockMapping, ClockSync, SyncPolicy};
pub use seed_polyfit::SeedPolyfit;

use crate::{Error, Result};

/// One latch pair: the device clock latched between two host reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatchSample {
    /// Host CLOCK_MONOTONIC_RAW just before the latch command, ns.
    pub host_before_ns: i64,
    /// Latched device time, ns of the device clock.
    pub device_ns: i64,
    /// Host CLOCK_MONOTONIC_RAW just after the latch command returned, ns.
    pub host_after_ns: i64,
    /// Host CLOCK_MONOTONIC_RAW after the latch value was read back, ns.
    pub host_after_read_ns: i64,
    /// Index of this latch within its burst; 0 starts a new burst.
    pub burst_index: u32,
}

/// One frame arrival: a device timestamp and the host time the frame arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrivalSample {
    /// Device timestamp, ns of the device clock.
    pub device_ns: i64,
    /// Host CLOCK_MONOTONIC_RAW at arrival, ns.
    pub host_arrival_ns: i64,
}

/// An estimator's current mapping from device time to host time: a line through
/// (`device_ref_ns`, `host_ref_ns`) with slope `1 + rate_ppm·1e-6`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockEstimate {
    /// Reference device time, ns.
    pub device_ref_ns: i64,
    /// Host time at the reference device time, ns.
    pub host_ref_ns: i64,
    /// Host-per-device rate error, ppm (positive: the device clock runs slow).
    pub rate_ppm: f64,
    /// One-sigma uncertainty of a mapped time near the reference, ns.
    pub uncertainty_ns: f64,
    /// RMS residual of the fit, ns.
    pub residual_rms_ns: f64,
    /// Samples the estimate rests on.
    pub samples: usize,
}

impl ClockEstimate {
    /// Maps a device time (ns) into host time (ns).
    pub fn host_ns_at(&self, device_ns: i64) -> i64 {
        let d = diff_f64(device_ns, self.device_ref_ns);
        self.host_ref_ns
            .saturating_add((d * (1.0 + self.rate_ppm * 1e-6)).round() as i64)
    }
}

/// `a - b`, ns, as `f64`: the same number as `(a - b) as f64` whenever that does not
/// overflow, and taken in `i128` when it would (garbage times far apart). The `i128` path
/// only then: converting an `i128` is a library call, and fits run this per sample.
#[inline]
pub(crate) fn diff_f64(a: i64, b: i64) -> f64 {
    match a.checked_sub(b) {
        Some(d) => d as f64,
        None => (i128::from(a) - i128::from(b)) as f64,
    }
}

/// `a - b - c`, ns, as `f64`, as [`diff_f64`] takes `a - b`.
#[inline]
pub(crate) fn diff2_f64(a: i64, b: i64, c: i64) -> f64 {
    match a.checked_sub(b).and_then(|d| d.checked_sub(c)) {
        Some(d) => d as f64,
        None => (i128::from(a) - i128::from(b) - i128::from(c)) as f64,
    }
}

/// A clock estimator. Feed it samples in log-time order; ask it for the current estimate.
/// An estimator uses only what it has been fed, so its estimates are causal.
pub trait ClockEstimator: Send {
    /// The registered name (`bracket`, `seed-polyfit`, ...).
    fn name(&self) -> &'static str;
    /// Takes one latch pair. Estimators that do not use latches ignore it.
    fn observe_latch(&mut self, _sample: &LatchSample) {}
    /// Takes one frame arrival. Estimators that do not use arrivals ignore it.
    fn observe_arrival(&mut self, _sample: &ArrivalSample) {}
    /// The current estimate, once there is enough data.
    fn estimate(&self) -> Option<ClockEstimate>;
    /// Forgets everything (after a device clock step).
    fn reset(&mut self);
    /// Whether latch pairs inform this estimator.
    fn uses_latches(&self) -> bool {
        true
    }
    /// Whether frame arrivals inform this estimator.
    fn uses_arrivals(&self) -> bool {
        false
    }
}

/// Names of the registered estimators, in the order `--help` lists them.
pub const ESTIMATOR_NAMES: [&str; 4] = [
    Bracket::NAME,
    Kalman::NAME,
    SeedPolyfit::NAME,
    Passive::NAME,
];

/// Builds a registered estimator with its default configuration.
pub fn by_name(name: &str) -> Result<Box<dyn ClockEstimator>> {
    Ok(match name {
        Bracket::NAME => Box::new(Bracket::default()),
        Kalman::NAME => Box::new(Kalman::default()),
        SeedPolyfit::NAME => Box::new(SeedPolyfit::default()),
        Passive::NAME => Box::new(Passive::default()),
        _ => {
            return Err(Error::UnknownEstimator {
                name: name.to_owned(),
                known: ESTIMATOR_NAMES.join(", "),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device clock running `rate_ppm` fast with offset `offset_ns`, and latch brackets of
    /// `out_ns` outgoing and `back_ns` return delay.
    pub(crate) fn latch(
        host_ns: i64,
        offset_ns: i64,
        ppm: f64,
        out_ns: i64,
        back_ns: i64,
        k: u32,
    ) -> LatchSample {
        let t_latch = host_ns + out_ns;
        let device_ns = offset_ns + t_latch + (t_latch as f64 * ppm * 1e-6) as i64;
        LatchSample {
            host_before_ns: host_ns,
            device_ns,
            host_after_ns: t_latch + back_ns,
            host_after_read_ns: t_latch + back_ns + 250_000,
            burst_index: k,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn bracket_and_kalman_converge_under_any_offset_and_drift(
            offset in -1_000_000_000_000_000i64..1_000_000_000_000_000,
            ppm in -100.0f64..100.0,
            out_ns in 20_000i64..200_000,
            back_ns in 20_000i64..200_000,
        ) {
            for name in ["bracket", "kalman"] {
                let mut e = by_name(name).expect("registered");
                for i in 0..120i64 {
                    for k in 0..4u32 {
                        let t = 1_000_000_000 + i * 500_000_000 + i64::from(k) * 1_000_000;
                        e.observe_latch(&latch(t, offset, ppm, out_ns, back_ns, k));
                    }
                }
                let t = 1_000_000_000 + 120 * 500_000_000;
                let dev = offset + t + (t as f64 * ppm * 1e-6) as i64;
                let est = e.estimate().expect("estimate");
                let err = est.host_ns_at(dev) - t;
                // the midpoint is biased by half the leg asymmetry; beyond that, µs-level
                let bias = (back_ns - out_ns) / 2;
                proptest::prop_assert!((err - bias).abs() < 3_000, "{name}: error {err} ns, bias {bias} ns");
                // rate_ppm is host per device: a device running fast reads negative
                proptest::prop_assert!((est.rate_ppm + ppm).abs() < 0.05, "{name}: rate {} vs device {ppm}", est.rate_ppm);
            }
        }
    }

    proptest::proptest! {
        /// Differences of any two or three times: `(a - b) as f64` where that does not
        /// overflow, else the exact difference rounded once (never a panic, never wrapped).
        #[test]
        fn time_differences_are_exact_then_rounded_once(
            a in proptest::prelude::any::<i64>(),
            b in proptest::prelude::any::<i64>(),
            c in proptest::prelude::any::<i64>(),
        ) {
            let exact2 = (i128::from(a) - i128::from(b)) as f64;
            proptest::prop_assert_eq!(diff_f64(a, b).to_bits(), exact2.to_bits());
            if let Some(d) = a.checked_sub(b) {
                proptest::prop_assert_eq!(diff_f64(a, b).to_bits(), (d as f64).to_bits());
            }
            let exact3 = (i128::from(a) - i128::from(b) - i128::from(c)) as f64;
            proptest::prop_assert_eq!(diff2_f64(a, b, c).to_bits(), exact3.to_bits());
            // small times, the usual case, on the fast path
            let (a, b, c) = (a >> 20, b >> 20, c >> 20);
            proptest::prop_assert_eq!(diff2_f64(a, b, c).to_bits(), ((a - b - c) as f64).to_bits());
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = by_name("magic").err().expect("unknown");
        assert!(err.to_string().contains("bracket"), "{err}");
        for n in ESTIMATOR_NAMES {
            assert_eq!(by_name(n).expect("registered").name(), n);
        }
    }

    #[test]
    fn bracket_beats_seed_on_asymmetric_read_delay() {
        let mut b = by_name("bracket").expect("bracket");
        let mut s = by_name("seed-polyfit").expect("seed");
        let offset = 7_000_000_000;
        for i in 0..200i64 {
            for k in 0..4u32 {
                let t = 1_000_000_000 + i * 500_000_000 + i64::from(k) * 2_000_000;
                // symmetric 40 µs legs, one slow burst member
                let slow = if k == 1 { 300_000 } else { 0 };
                let l = latch(t, offset, 20.0, 40_000 + slow, 40_000, k);
                b.observe_latch(&l);
                s.observe_latch(&l);
            }
        }
        let dev_at = |t: i64| offset + t + (t as f64 * 20.0e-6) as i64;
        let t = 1_000_000_000 + 199 * 500_000_000;
        let truth = t;
        let eb = b.estimate().expect("bracket est").host_ns_at(dev_at(t));
        let es = s.estimate().expect("seed est").host_ns_at(dev_at(t));
        assert!(
            (eb - truth).abs() < 2_000,
            "bracket error {} ns",
            eb - truth
        );
        assert!((es - truth).abs() > 100_000, "seed error {} ns", es - truth);
    }
}
