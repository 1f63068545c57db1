//! Targets moving along polylines on the rig's ground plane.

use crate::config::TargetConfig;

/// A target's state at one instant, rig frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetState {
    /// Object id.
    pub id: u64,
    /// Centre on the ground plane, m.
    pub x_m: f64,
    /// Centre y, m.
    pub y_m: f64,
    /// Velocity, m/s.
    pub vx_mps: f64,
    /// Velocity y, m/s.
    pub vy_mps: f64,
    /// Heading of the body's length axis, rad.
    pub heading_rad: f64,
}

/// A target and its precomputed path.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Configuration.
    pub cfg: TargetConfig,
    /// The path as travelled in one cycle (there and back for an open path).
    cycle: Vec<[f64; 2]>,
    /// Cumulative length at each cycle vertex, m.
    cumulative_m: Vec<f64>,
}

impl Target {
    /// From a validated config.
    pub fn new(cfg: &TargetConfig) -> Self {
        let mut cycle = cfg.path_m.clone();
        if cfg.closed {
            cycle.push(cfg.path_m[0]);
        } else {
            cycle.extend(cfg.path_m.iter().rev().skip(1));
        }
        let mut cumulative_m = vec![0.0];
        for w in cycle.windows(2) {
            let d = ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt();
            cumulative_m.push(cumulative_m[cumulative_m.len() - 1] + d);
        }
        Self {
            cfg: cfg.clone(),
            cycle,
            cumulative_m,
        }
    }

    /// State at `t_s` seconds since the start.
    pub fn state(&self, t_s: f64) -> TargetState {
        let total = self.cumulative_m[self.cumulative_m.len() - 1];
        let s = if total > 0.0 {
            (self.cfg.start_offset_m + self.cfg.speed_mps * t_s).rem_euclid(total)
        } else {
            0.0
        };
        let i =
            (self.cumulative_m.partition_point(|c| *c <= s).max(1) - 1).min(self.cycle.len() - 2);
        let (a, b) = (self.cycle[i], self.cycle[i + 1]);
        let seg = self.cumulative_m[i + 1] - self.cumulative_m[i];
        let (ux, uy) = if seg > 0.0 {
            ((b[0] - a[0]) / seg, (b[1] - a[1]) / seg)
        } else {
            (1.0, 0.0)
        };
        let f = s - self.cumulative_m[i];
        TargetState {
            id: self.cfg.id,
            x_m: a[0] + ux * f,
            y_m: a[1] + uy * f,
            vx_mps: ux * self.cfg.speed_mps,
            vy_mps: uy * self.cfg.speed_mps,
            heading_rad: uy.atan2(ux),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_paths_go_back_and_forth() {
        let t = Target::new(&TargetConfig {
            id: 1,
            class: "car".into(),
            size_m: [4.0, 2.0, 1.5],
            path_m: vec![[10.0, 0.0], [20.0, 0.0]],
            speed_mps: 2.0,
            start_offset_m: 0.0,
            closed: false,
        });
        let s = t.state(2.5);
        assert!((s.x_m - 15.0).abs() < 1e-9 && s.vx_mps > 0.0);
        let s = t.state(7.5); // 15 m along: 5 m back from 20
        assert!((s.x_m - 15.0).abs() < 1e-9 && s.vx_mps < 0.0);
        let s = t.state(10.0); // full cycle
        assert!((s.x_m - 10.0).abs() < 1e-9);
    }
}
