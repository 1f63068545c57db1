//! Two-state Kalman estimator (offset, skew) with an outlier gate, measurement noise from the
//! bracket width (its excess over the narrowest recent bracket).

use super::{ClockEstimate, ClockEstimator, LatchSample};
use nalgebra::{Matrix2, Vector2};
use std::collections::VecDeque;

/// Kalman parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KalmanConfig {
    /// Skew random walk, (ns/s)² per s: how fast the oscillator's rate wanders while the
    /// innovations look white; raised 25× while they keep one sign (the rate is moving).
    pub skew_noise: f64,
    /// Offset white-frequency noise, ns² per s.
    pub offset_noise: f64,
    /// Innovations beyond this many standard deviations are rejected.
    pub gate_sigma: f64,
    /// After this many consecutive rejections the filter re-initialises on the data.
    pub max_rejections: u32,
}

impl Default for KalmanConfig {
    fn default() -> Self {
        Self {
            skew_noise: 1_000.0,
            offset_noise: 100.0,
            gate_sigma: 4.0,
            max_rejections: 8,
        }
    }
}

/// Kalman estimator over latch midpoints. State: offset θ (ns, host − device − base) at the
/// last device time, and skew γ (ns of offset per s of device time, i.e. ppb).
#[derive(Debug, Clone)]
pub struct Kalman {
    /// Parameters.
    pub cfg: KalmanConfig,
    base: Option<i64>,
    initialised: bool,
    last_device_ns: i64,
    x: Vector2<f64>,
    p: Matrix2<f64>,
    bursts: usize,
    rejections: u32,
    recent_rtt_ns: VecDeque<i64>,
    innovation_rms: f64,
    burst_best: Option<LatchSample>,
    skipped: u32,
    /// EMA of normalised innovations (signed): near 0 while the model fits.
    innovation_bias: f64,
}

/// Weight of a new normalised innovation in `innovation_bias`.
const BIAS_EMA: f64 = 0.1;
/// |bias| above this (≈ 2.6 σ of an EMA of unit white noise) means the rate is moving.
const BIAS_TRIGGER: f64 = 0.6;
/// Skew noise multiplier while the rate is moving.
const SKEW_BOOST: f64 = 25.0;

/// Bursts wider than the recent median are skipped, but never more than this many in a row.
const MAX_SKIPPED: u32 = 10;

/// Bursts whose narrowest round trips set the floor that measurement noise is judged against.
const RTT_HISTORY: usize = 64;
/// Measurement noise floor (one sigma), ns.
const MIN_SIGMA_NS: f64 = 1000.0;

impl Kalman {
    /// Registered name.
    pub const NAME: &'static str = "kalman";

    fn init(&mut self, device_ns: i64, z: f64, r: f64) {
        self.last_device_ns = device_ns;
        self.x = Vector2::new(z, 0.0);
        self.p = Matrix2::new(r, 0.0, 0.0, 1e10); // skew unknown: ±100 ppm
        self.rejections = 0;
        self.initialised = true;
    }
}

impl Default for Kalman {
    fn default() -> Self {
        Self {
            cfg: KalmanConfig::default(),
            base: None,
            initialised: false,
            last_device_ns: 0,
            x: Vector2::zeros(),
            p: Matrix2::identity(),
            bursts: 0,
            rejections: 0,
            recent_rtt_ns: VecDeque::new(),
            innovation_rms: 0.0,
            burst_best: None,
            skipped: 0,
            innovation_bias: 0.0,
        }
    }
}

impl ClockEstimator for Kalman {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe_latch(&mut self, s: &LatchSample) {
        if s.host_after_ns < s.host_before_ns {
            return; // a bracket that runs backwards carries no information
        }
        // Only each burst's narrowest bracket is a measurement; it is used once the burst is
        // complete (the next burst starts), so the filter lags by one burst, causally.
        let rtt = |l: &LatchSample| l.host_after_ns.saturating_sub(l.host_before_ns);
        match self.burst_best {
            Some(best) if s.burst_index != 0 => {
                if rtt(s) < rtt(&best) {
                    self.burst_best = Some(*s);
                }
            }
            previous => {
                self.burst_best = Some(*s);
                if let Some(done) = previous {
                    self.bursts += 1;
                    self.update(&done);
                }
            }
        }
    }

    fn estimate(&self) -> Option<ClockEstimate> {
        let base = self.base.filter(|_| self.initialised)?;
        Some(ClockEstimate {
            device_ref_ns: self.last_device_ns,
            host_ref_ns: self
                .last_device_ns
                .saturating_add(base)
                .saturating_add(self.x.x.round() as i64),
            rate_ppm: self.x.y * 1e-3,
            uncertainty_ns: self.p[(0, 0)].max(0.0).sqrt(),
            residual_rms_ns: self.innovation_rms,
            samples: self.bursts,
        })
    }

    fn reset(&mut self) {
        *self = Self {
            cfg: self.cfg,
            ..Self::default()
        };
    }
}

impl Kalman {
    /// One Kalman update with a burst's narrowest bracket.
    fn update(&mut self, s: &LatchSample) {
        let rtt = super::diff_f64(s.host_after_ns, s.host_before_ns);
        let midpoint = s.host_before_ns as f64 + rtt / 2.0;
        let base = *self
            .base
            .get_or_insert((midpoint as i64).saturating_sub(s.device_ns));
        let predicted = match s.device_ns.checked_add(base) {
            Some(p) => p as f64,
            // garbage times far apart: in i128 (`diff_f64`)
            None => (i128::from(s.device_ns) + i128::from(base)) as f64,
        };
        let z = midpoint - predicted;
        // beyond the narrowest recent bracket, a midpoint can be off by half its excess
        // round trip: that bound is the measurement's sigma
        self.recent_rtt_ns.push_back(rtt as i64);
        if self.recent_rtt_ns.len() > RTT_HISTORY {
            self.recent_rtt_ns.pop_front();
        }
        let floor = self.recent_rtt_ns.iter().min().copied().unwrap_or(0) as f64;
        // a burst whose narrowest bracket is wider than most recent ones says little about the
        // offset: keep the better half, unless the filter would go without data for long
        let mut sorted: Vec<i64> = self.recent_rtt_ns.iter().copied().collect();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0) as f64;
        if self.initialised && rtt > median && self.skipped < MAX_SKIPPED {
            self.skipped += 1;
            return;
        }
        self.skipped = 0;
        // Until the history can tell the floor, a bracket bounds its midpoint's error only by
        // its own half-width: a few early narrow-looking bursts must not pin the skew.
        let r = if self.recent_rtt_ns.len() < RTT_HISTORY / 4 {
            (rtt / 2.0).max(MIN_SIGMA_NS).powi(2)
        } else {
            ((rtt - floor) / 2.0 + MIN_SIGMA_NS).powi(2)
        };
        if !self.initialised {
            self.init(s.device_ns, z, r);
            return;
        }
        let dt = super::diff_f64(s.device_ns, self.last_device_ns) * 1e-9;
        let f = Matrix2::new(1.0, dt, 0.0, 1.0);
        // adaptive skew noise: innovations that keep one sign mean the rate is moving
        let boost = if self.innovation_bias.abs() > BIAS_TRIGGER {
            SKEW_BOOST
        } else {
            1.0
        };
        let (qg, qo) = (self.cfg.skew_noise * boost, self.cfg.offset_noise);
        let dt = dt.abs();
        let q = Matrix2::new(
            qo * dt + qg * dt.powi(3) / 3.0,
            qg * dt * dt / 2.0,
            qg * dt * dt / 2.0,
            qg * dt,
        );
        let x_pred = f * self.x;
        let p_pred = f * self.p * f.transpose() + q;
        let innovation = z - x_pred.x;
        let s_var = p_pred[(0, 0)] + r;
        if innovation * innovation > self.cfg.gate_sigma.powi(2) * s_var {
            self.rejections += 1;
            if self.rejections >= self.cfg.max_rejections {
                self.init(s.device_ns, z, r);
            }
            return;
        }
        self.rejections = 0;
        self.innovation_bias =
            (1.0 - BIAS_EMA) * self.innovation_bias + BIAS_EMA * innovation / s_var.sqrt();
        let k = Vector2::new(p_pred[(0, 0)], p_pred[(1, 0)]) / s_var;
        self.x = x_pred + k * innovation;
        let kh = Matrix2::new(k.x, 0.0, k.y, 0.0);
        self.p = (Matrix2::identity() - kh) * p_pred;
        self.last_device_ns = s.device_ns;
        self.innovation_rms =
            (0.9 * self.innovation_rms.powi(2) + 0.1 * innovation * innovation).sqrt();
    }
}
