//! Temperature profile and device oscillators: device time as an exact function of host time.

use crate::config::{ClockConfig, TemperatureConfig};

/// Piecewise-linear temperature over time since the start of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureProfile {
    points: Vec<[f64; 2]>,
}

impl TemperatureProfile {
    /// From a validated config (non-empty, increasing times).
    pub fn new(cfg: &TemperatureConfig) -> Self {
        Self {
            points: cfg.profile.clone(),
        }
    }

    /// Temperature at `t_s` seconds since the start, °C.
    pub fn at(&self, t_s: f64) -> f64 {
        let p = &self.points;
        if t_s <= p[0][0] {
            return p[0][1];
        }
        for w in p.windows(2) {
            let ([t0, c0], [t1, c1]) = (w[0], w[1]);
            if t_s <= t1 {
                return c0 + (c1 - c0) * (t_s - t0) / (t1 - t0);
            }
        }
        p[p.len() - 1][1]
    }

    /// Breakpoint times, s.
    fn times(&self) -> impl Iterator<Item = f64> + '_ {
        self.points.iter().map(|p| p[0])
    }
}

/// A device clock: `device = host + offset + ∫ rate`, with the rate error (ppm) linear in
/// temperature. Because the profile is piecewise linear, the integral is exact.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceClock {
    host_start_ns: i64,
    offset_ns: i64,
    drift_ppm: f64,
    temp_coeff_ppm_per_c: f64,
    reference_c: f64,
    temperature: TemperatureProfile,
    /// (time s, accumulated phase ns) at 0 and at each positive breakpoint.
    knots: Vec<(f64, f64)>,
    /// Device clock steps: (time s, jump ns), sorted by time.
    steps: Vec<(f64, i64)>,
}

impl DeviceClock {
    /// A clock starting at host time `host_start_ns`.
    pub fn new(cfg: &ClockConfig, temperature: &TemperatureProfile, host_start_ns: i64) -> Self {
        let mut clock = Self {
            host_start_ns,
            offset_ns: cfg.offset_ns,
            drift_ppm: cfg.drift_ppm,
            temp_coeff_ppm_per_c: cfg.temp_coeff_ppm_per_c,
            reference_c: cfg.reference_c,
            temperature: temperature.clone(),
            knots: vec![(0.0, 0.0)],
            steps: cfg.steps.iter().map(|[t, j]| (*t, *j as i64)).collect(),
        };
        clock.steps.sort_by(|a, b| a.0.total_cmp(&b.0));
        let times: Vec<f64> = temperature.times().filter(|t| *t > 0.0).collect();
        let mut acc = 0.0;
        let mut last = 0.0;
        for t in times {
            acc += clock.segment_phase_ns(last, t);
            clock.knots.push((t, acc));
            last = t;
        }
        clock
    }

    /// Rate error at `t_s` seconds since the start, ppm.
    pub fn rate_ppm(&self, t_s: f64) -> f64 {
        self.drift_ppm + self.temp_coeff_ppm_per_c * (self.temperature.at(t_s) - self.reference_c)
    }

    /// Phase gained between `a` and `b` (s, within one linear piece), ns.
    fn segment_phase_ns(&self, a: f64, b: f64) -> f64 {
        (self.rate_ppm(a) + self.rate_ppm(b)) / 2.0 * (b - a) * 1e3
    }

    /// Device time at host time `host_ns`, ns of the device clock.
    pub fn device_ns(&self, host_ns: i64) -> i64 {
        let t = (host_ns - self.host_start_ns) as f64 * 1e-9;
        let phase = if t <= 0.0 {
            self.rate_ppm(0.0) * t * 1e3
        } else {
            let i = self.knots.partition_point(|(k, _)| *k <= t) - 1;
            let (k, acc) = self.knots[i];
            acc + self.segment_phase_ns(k, t)
        };
        let jumps: i64 = self
            .steps
            .iter()
            .take_while(|(ts, _)| *ts <= t)
            .map(|(_, j)| j)
            .sum();
        host_ns + self.offset_ns + phase.round() as i64 + jumps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_integrates_a_temperature_ramp_exactly() {
        let temp = TemperatureProfile::new(&TemperatureConfig {
            profile: vec![[0.0, 25.0], [100.0, 35.0], [200.0, 35.0]],
        });
        let clock = DeviceClock::new(
            &ClockConfig {
                offset_ns: 1_000,
                drift_ppm: 10.0,
                temp_coeff_ppm_per_c: 1.0,
                reference_c: 25.0,
                steps: vec![[160.0, -1_000_000.0]],
            },
            &temp,
            0,
        );
        // 0..100 s: rate 10 -> 20 ppm, mean 15 ppm: 1.5 ms; 100..150 s: 20 ppm: 1.0 ms.
        let d = clock.device_ns(150_000_000_000);
        assert_eq!(d - 150_000_000_000 - 1_000, 2_500_000);
        assert!((clock.rate_ppm(50.0) - 15.0).abs() < 1e-12);
        // 160..170 s at 20 ppm adds 0.2 ms; the step at 160 s takes 1 ms away
        let d = clock.device_ns(170_000_000_000);
        assert_eq!(d - 170_000_000_000 - 1_000, 2_500_000 + 400_000 - 1_000_000);
    }
}
