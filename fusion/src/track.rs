//! Constant-velocity Kalman tracking on the rig ground plane, with tentative, confirmed and
//! deleted tracks and stable `track_id`s.

use crate::assignment::min_cost_pairs;
use crate::distance_gate::DistanceGate;
use nalgebra::{Matrix2, Matrix2x4, Matrix4, Vector2, Vector4};

/// Lifecycle of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackStatus {
    /// Seen too few times to be reported.
    Tentative,
    /// Reported.
    Confirmed,
    /// Missed too often; removed at the next step.
    Deleted,
}

/// Tracker parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Measurements farther than this from a track's prediction do not update it, m.
    pub gate_m: f64,
    /// Hits needed to confirm a track.
    pub confirm_hits: u32,
    /// Consecutive misses after which a track is deleted.
    pub max_misses: u32,
    /// White-acceleration process noise, m/s².
    pub accel_noise_mps2: f64,
    /// Measurement noise (one sigma per axis), m.
    pub measurement_noise_m: f64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            gate_m: 2.5,
            confirm_hits: 3,
            max_misses: 6,
            accel_noise_mps2: 3.0,
            measurement_noise_m: 0.4,
        }
    }
}

/// One track: state (x, y, vx, vy) in the rig frame and its covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Stable id, never reused.
    pub track_id: u64,
    /// State: x m, y m, vx m/s, vy m/s.
    pub state: Vector4<f64>,
    /// State covariance.
    pub covariance: Matrix4<f64>,
    /// Updates received.
    pub hits: u32,
    /// Consecutive steps without an update.
    pub misses: u32,
    /// Lifecycle state.
    pub status: TrackStatus,
}

/// A confirmed track as output at one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackOutput {
    /// Stable id.
    pub track_id: u64,
    /// Position, m (rig frame).
    pub x_m: f64,
    /// Position y, m.
    pub y_m: f64,
    /// Velocity, m/s.
    pub vx_mps: f64,
    /// Velocity y, m/s.
    pub vy_mps: f64,
    /// Confidence in [0, 1]: grows with hits, falls with consecutive misses.
    pub confidence: f64,
}

/// What one tracker step produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepOutput {
    /// Confirmed tracks, in creation order.
    pub tracks: Vec<TrackOutput>,
    /// For each measurement, the track it updated or created.
    pub measurement_tracks: Vec<u64>,
}

/// A multi-target tracker. Steps must come in non-decreasing time.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    cfg: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    last_ns: Option<i64>,
}

impl Tracker {
    /// A tracker with the given parameters.
    pub fn new(cfg: TrackerConfig) -> Self {
        Self {
            cfg,
            tracks: Vec::new(),
            next_id: 1,
            last_ns: None,
        }
    }

    /// Predicts every track to `t_ns`, assigns `measurements` (x, y in m), updates, creates and
    /// deletes tracks; returns the confirmed tracks.
    pub fn step(&mut self, t_ns: i64, measurements: &[Vector2<f64>]) -> Vec<TrackOutput> {
        self.step_with_ids(t_ns, measurements).tracks
    }

    /// As [`Tracker::step`], also saying which track each measurement went to. Non-finite
    /// measurements must be filtered by the caller.
    pub fn step_with_ids(&mut self, t_ns: i64, measurements: &[Vector2<f64>]) -> StepOutput {
        let dt = self
            .last_ns
            .map_or(0.0, |l| (t_ns - l).max(0) as f64 * 1e-9);
        self.last_ns = Some(t_ns);
        self.tracks.retain(|t| t.status != TrackStatus::Deleted);
        let f = Matrix4::new(
            1.0, 0.0, dt, 0.0, //
            0.0, 1.0, 0.0, dt, //
            0.0, 0.0, 1.0, 0.0, //
            0.0, 0.0, 0.0, 1.0,
        );
        let q = {
            let a2 = self.cfg.accel_noise_mps2.powi(2);
            let (d2, d3, d4) = (dt * dt, dt * dt * dt / 2.0, dt.powi(4) / 4.0);
            Matrix4::new(
                d4, 0.0, d3, 0.0, //
                0.0, d4, 0.0, d3, //
                d3, 0.0, d2, 0.0, //
                0.0, d3, 0.0, d2,
            ) * a2
        };
        let f_t = f.transpose();
        for t in &mut self.tracks {
            t.state = f * t.state;
            t.covariance = product(&product(&f, &t.covariance), &f_t) + q;
        }
        let h = Matrix2x4::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        let r = Matrix2::identity() * self.cfg.measurement_noise_m.powi(2);
        let gate = DistanceGate::up_to(self.cfg.gate_m);
        // each track's predicted position once, not once per measurement it is weighed against
        let predicted: Vec<Vector2<f64>> = self.tracks.iter().map(|t| h * t.state).collect();
        let pairs = min_cost_pairs(predicted.len(), measurements.len(), |ti, mi| {
            gate.pass((predicted[ti] - measurements[mi]).norm_squared())
        });
        let mut measurement_tracks = vec![0; measurements.len()];
        let mut used = vec![false; measurements.len()];
        let mut updated = vec![false; self.tracks.len()];
        for &(ti, mi) in &pairs {
            let t = &mut self.tracks[ti];
            let s = h * t.covariance * h.transpose() + r;
            let Some(s_inv) = s.try_inverse() else {
                continue;
            };
            let k = t.covariance * h.transpose() * s_inv;
            t.state += k * (measurements[mi] - h * t.state);
            t.covariance = (Matrix4::identity() - k * h) * t.covariance;
            t.hits += 1;
            t.misses = 0;
            if t.hits >= self.cfg.confirm_hits {
                t.status = TrackStatus::Confirmed;
            }
            used[mi] = true;
            measurement_tracks[mi] = t.track_id;
            updated[ti] = true;
        }
        for (t, up) in self.tracks.iter_mut().zip(&updated) {
            if !up {
                t.misses += 1;
                if t.misses > self.cfg.max_misses {
                    t.status = TrackStatus::Deleted;
                }
            }
        }
        for (mi, m) in measurements.iter().enumerate().filter(|(i, _)| !used[*i]) {
            measurement_tracks[mi] = self.next_id;
            let mut covariance = Matrix4::identity() * 25.0;
            covariance[(0, 0)] = r[(0, 0)];
            covariance[(1, 1)] = r[(1, 1)];
            self.tracks.push(Track {
                track_id: self.next_id,
                state: Vector4::new(m.x, m.y, 0.0, 0.0),
                covariance,
                hits: 1,
                misses: 0,
                status: if self.cfg.confirm_hits <= 1 {
                    TrackStatus::Confirmed
                } else {
                    TrackStatus::Tentative
                },
            });
            self.next_id += 1;
        }
        let cfg = self.cfg;
        // sized for every track: collected through a filter, the list grew by doubling
        let mut tracks = Vec::with_capacity(self.tracks.len());
        tracks.extend(
            self.tracks
                .iter()
                .filter(|t| t.status == TrackStatus::Confirmed)
                .map(|t| TrackOutput {
                    track_id: t.track_id,
                    x_m: t.state.x,
                    y_m: t.state.y,
                    vx_mps: t.state.z,
                    vy_mps: t.state.w,
                    confidence: (f64::from(t.hits) / f64::from(3 * cfg.confirm_hits.max(1)))
                        .min(1.0)
                        * (1.0 - f64::from(t.misses) / f64::from(cfg.max_misses + 1)),
                }),
        );
        StepOutput {
            tracks,
            measurement_tracks,
        }
    }
}

/// `a · b` for 4 × 4 matrices, bit for bit nalgebra's `a * b`: each column of the result is
/// built up over `a`'s columns as nalgebra's product builds it (`a[(i, 0)]·b[(0, j)]`, then
/// `a[(i, k)]·b[(k, j)]` added for k = 1, 2, 3), written out because nalgebra's generic
/// product is not inlined, and the prediction makes two of them per track and frame.
fn product(a: &Matrix4<f64>, b: &Matrix4<f64>) -> Matrix4<f64> {
    Matrix4::from_fn(|i, j| {
        let mut sum = a[(i, 0)] * b[(0, j)];
        for k in 1..4 {
            sum += a[(i, k)] * b[(k, j)];
        }
        sum
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The written-out product is nalgebra's, bit for bit, for any values: signed
        /// zeros, infinities and NaNs included (NaNs compared as NaNs).
        #[test]
        fn product_is_nalgebras_bit_for_bit(
            cells in proptest::collection::vec(
                proptest::prop_oneof![
                    1 => proptest::strategy::Just(0.0),
                    1 => proptest::strategy::Just(-0.0),
                    1 => proptest::strategy::Just(f64::INFINITY),
                    1 => proptest::strategy::Just(f64::NAN),
                    60 => -1e3f64..1e3,
                ],
                32,
            ),
        ) {
            let a = Matrix4::from_column_slice(&cells[..16]);
            let b = Matrix4::from_column_slice(&cells[16..]);
            let (ours, theirs) = (product(&a, &b), a * b);
            for (x, y) in ours.iter().zip(theirs.iter()) {
                proptest::prop_assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "{} against {}", x, y);
            }
        }
    }

    #[test]
    fn two_crossing_free_targets_keep_their_ids_and_velocity() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut last = Vec::new();
        for k in 0..60i64 {
            let t = k * 33_333_333;
            let s = t as f64 * 1e-9;
            let m = [
                Vector2::new(20.0 - 5.0 * s, 2.0),
                Vector2::new(10.0 + 2.0 * s, -3.0),
            ];
            last = tr.step(t, &m);
        }
        assert_eq!(last.len(), 2);
        let ids: Vec<u64> = last.iter().map(|t| t.track_id).collect();
        assert_eq!(ids, vec![1, 2]);
        assert!((last[0].vx_mps + 5.0).abs() < 0.2, "{:?}", last[0]);
        assert!((last[1].vx_mps - 2.0).abs() < 0.2, "{:?}", last[1]);
    }

    #[test]
    fn a_lost_target_is_deleted_and_never_reuses_its_id() {
        let mut tr = Tracker::new(TrackerConfig::default());
        for k in 0..10 {
            tr.step(k * 33_000_000, &[Vector2::new(10.0, 0.0)]);
        }
        for k in 10..30 {
            tr.step(k * 33_000_000, &[]);
        }
        let out = (30..40)
            .map(|k| tr.step(k * 33_000_000, &[Vector2::new(10.0, 0.0)]))
            .last();
        assert_eq!(out.expect("steps")[0].track_id, 2);
    }

    #[test]
    fn says_which_track_each_measurement_fed_and_grows_confidence() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let first = tr.step_with_ids(0, &[Vector2::new(10.0, 0.0), Vector2::new(30.0, 5.0)]);
        assert_eq!(first.measurement_tracks, vec![1, 2]);
        let mut conf = Vec::new();
        for k in 1..12 {
            let s = tr.step_with_ids(
                k * 50_000_000,
                &[Vector2::new(30.0, 5.0), Vector2::new(10.0, 0.0)],
            );
            assert_eq!(s.measurement_tracks, vec![2, 1]);
            conf.extend(s.tracks.first().map(|t| t.confidence));
        }
        assert!(
            conf.windows(2).all(|w| w[1] >= w[0]) && conf.last() == Some(&1.0),
            "{conf:?}"
        );
    }
}
