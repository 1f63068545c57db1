//! The radar → camera → pixel chain with first-order noise propagation.
//!
//! A radar measurement (range, azimuth, elevation, doppler) is turned into a point in the radar
//! frame, moved into the camera frame by the extrinsic, and projected through the pinhole +
//! Brown-Conrady model. Its covariance follows the same chain through the analytic Jacobians, so
//! every projected radar object carries a pixel covariance. The caller applies the radar↔camera
//! time offset first (it picks *which* radar measurement to project).

use crate::geometry::{Intrinsics, radar_spherical};
use nalgebra::{Isometry3, Matrix2, Matrix2x3, Matrix3, Point2, Point3};

/// One radar measurement in the sensor's own spherical coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadarMeasurement {
    /// Range, m.
    pub range_m: f64,
    /// Azimuth, rad, positive to the radar's right (TI convention: atan2(x, y)).
    pub azimuth_rad: f64,
    /// Elevation, rad, positive up.
    pub elevation_rad: f64,
    /// Radial velocity, m/s, positive away from the radar.
    pub doppler_mps: f64,
}

impl RadarMeasurement {
    /// The measurement of a point in the radar frame (doppler given).
    pub fn from_point(p: &Point3<f64>, doppler_mps: f64) -> Self {
        let (range_m, azimuth_rad, elevation_rad) = radar_spherical(p);
        Self {
            range_m,
            azimuth_rad,
            elevation_rad,
            doppler_mps,
        }
    }

    /// The point in the radar frame, m.
    pub fn point(&self) -> Point3<f64> {
        let (se, ce) = self.elevation_rad.sin_cos();
        let (sa, ca) = self.azimuth_rad.sin_cos();
        Point3::new(
            self.range_m * ce * sa,
            self.range_m * ce * ca,
            self.range_m * se,
        )
    }

    /// ∂(x, y, z) / ∂(range, azimuth, elevation).
    fn point_jacobian(&self) -> Matrix3<f64> {
        let r = self.range_m;
        let (se, ce) = self.elevation_rad.sin_cos();
        let (sa, ca) = self.azimuth_rad.sin_cos();
        Matrix3::new(
            ce * sa,
            r * ce * ca,
            -r * se * sa, //
            ce * ca,
            -r * ce * sa,
            -r * se * ca, //
            se,
            0.0,
            r * ce,
        )
    }

    /// Whether every field is finite and the range positive.
    pub fn is_valid(&self) -> bool {
        self.range_m.is_finite()
            && self.range_m > 0.0
            && self.azimuth_rad.is_finite()
            && self.elevation_rad.is_finite()
            && self.doppler_mps.is_finite()
    }
}

/// One-sigma radar measurement noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadarNoise {
    /// Range noise, m.
    pub range_m: f64,
    /// Azimuth noise, rad.
    pub azimuth_rad: f64,
    /// Elevation noise, rad.
    pub elevation_rad: f64,
}

impl Default for RadarNoise {
    /// An xWR1843-class sensor: 5 cm, 0.3°, 0.6° (one sigma per point).
    fn default() -> Self {
        Self {
            range_m: 0.05,
            azimuth_rad: 0.3f64.to_radians(),
            elevation_rad: 0.6f64.to_radians(),
        }
    }
}

impl RadarNoise {
    /// The noise of the mean of `n` independent points.
    pub fn of_mean(&self, n: usize) -> Self {
        let k = 1.0 / (n.max(1) as f64).sqrt();
        Self {
            range_m: self.range_m * k,
            azimuth_rad: self.azimuth_rad * k,
            elevation_rad: self.elevation_rad * k,
        }
    }
}

/// A radar measurement projected into the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelEstimate {
    /// Pixel, px.
    pub pixel: Point2<f64>,
    /// Pixel covariance, px².
    pub covariance_px2: Matrix2<f64>,
    /// Depth along the optical axis, m.
    pub depth_m: f64,
}

impl PixelEstimate {
    /// Square root of the largest eigenvalue of the covariance: the worst-direction sigma, px.
    pub fn max_sigma_px(&self) -> f64 {
        let c = &self.covariance_px2;
        let (a, b, d) = (c[(0, 0)], c[(0, 1)], c[(1, 1)]);
        let half_trace = (a + d) / 2.0;
        let disc = ((a - d) / 2.0).hypot(b);
        (half_trace + disc).max(0.0).sqrt()
    }
}

/// Brown-Conrady distortion of normalised coordinates and its Jacobian.
fn distort(i: &Intrinsics, x: f64, y: f64) -> ((f64, f64), Matrix2<f64>) {
    let r2 = x * x + y * y;
    let radial = 1.0 + i.k1 * r2 + i.k2 * r2 * r2 + i.k3 * r2 * r2 * r2;
    let d_radial = i.k1 + 2.0 * i.k2 * r2 + 3.0 * i.k3 * r2 * r2;
    let xd = x * radial + 2.0 * i.p1 * x * y + i.p2 * (r2 + 2.0 * x * x);
    let yd = y * radial + i.p1 * (r2 + 2.0 * y * y) + 2.0 * i.p2 * x * y;
    let j = Matrix2::new(
        radial + 2.0 * x * x * d_radial + 2.0 * i.p1 * y + 6.0 * i.p2 * x,
        2.0 * x * y * d_radial + 2.0 * i.p1 * x + 2.0 * i.p2 * y,
        2.0 * x * y * d_radial + 2.0 * i.p1 * x + 2.0 * i.p2 * y,
        radial + 2.0 * y * y * d_radial + 6.0 * i.p1 * y + 2.0 * i.p2 * x,
    );
    ((xd, yd), j)
}

/// Projects a point in the camera frame to a pixel with the Jacobian ∂pixel/∂point.
/// `None` behind or closer than 0.1 m to the camera.
pub fn project_point(i: &Intrinsics, p: &Point3<f64>) -> Option<(Point2<f64>, Matrix2x3<f64>)> {
    if p.z.is_nan() || p.z < 0.1 {
        return None;
    }
    let (x, y) = (p.x / p.z, p.y / p.z);
    let ((xd, yd), jd) = distort(i, x, y);
    let jn = Matrix2x3::new(
        1.0 / p.z,
        0.0,
        -x / p.z, //
        0.0,
        1.0 / p.z,
        -y / p.z,
    );
    let jf = Matrix2::new(i.fx_px, 0.0, 0.0, i.fy_px);
    Some((
        Point2::new(i.fx_px * xd + i.cx_px, i.fy_px * yd + i.cy_px),
        jf * jd * jn,
    ))
}

/// Projects a radar measurement through `camera_from_radar` and the intrinsics, propagating
/// `noise` to a pixel covariance. `None` when the point is behind the camera.
pub fn project_measurement(
    i: &Intrinsics,
    camera_from_radar: &Isometry3<f64>,
    m: &RadarMeasurement,
    noise: &RadarNoise,
) -> Option<PixelEstimate> {
    let p_cam = camera_from_radar * m.point();
    let (pixel, j_pix) = project_point(i, &p_cam)?;
    let rot = camera_from_radar.rotation.to_rotation_matrix();
    let j = j_pix * rot.matrix() * m.point_jacobian();
    let sigma = Matrix3::from_diagonal(&nalgebra::Vector3::new(
        noise.range_m.powi(2),
        noise.azimuth_rad.powi(2),
        noise.elevation_rad.powi(2),
    ));
    Some(PixelEstimate {
        pixel,
        covariance_px2: j * sigma * j.transpose(),
        depth_m: p_cam.z,
    })
}

/// Projects clustered radar objects into the image with their pixel uncertainty (per-point
/// `noise` reduced by each object's point count). Returns the objects that land inside the
/// image, with the index of each in `objects`.
pub fn project_objects(
    i: &Intrinsics,
    camera_from_radar: &Isometry3<f64>,
    objects: &[crate::radar::RadarObject],
    noise: &RadarNoise,
) -> Vec<(usize, crate::associate::ProjectedObject)> {
    let mut projected = Vec::with_capacity(objects.len());
    projected.extend(objects.iter().enumerate().filter_map(|(k, o)| {
        let m = RadarMeasurement::from_point(&o.position_m, o.doppler_mps);
        let est = project_measurement(i, camera_from_radar, &m, &noise.of_mean(o.points))?;
        i.contains(&est.pixel).then(|| {
            (
                k,
                crate::associate::ProjectedObject {
                    pixel: est.pixel,
                    sigma_px: est.max_sigma_px(),
                    range_m: m.range_m,
                    doppler_mps: o.doppler_mps,
                    snr_db: o.snr_db,
                },
            )
        })
    }));
    projected
}

/// Inverts the projection: the camera-frame point at depth `depth_m` (m, along the optical
/// axis) that projects to `pixel`. Undistortion by Newton's method to 1e-14 in normalised
/// coordinates; `None` if it does not converge.
pub fn unproject(i: &Intrinsics, pixel: &Point2<f64>, depth_m: f64) -> Option<Point3<f64>> {
    let target = ((pixel.x - i.cx_px) / i.fx_px, (pixel.y - i.cy_px) / i.fy_px);
    let (mut x, mut y) = target;
    for _ in 0..50 {
        let ((xd, yd), j) = distort(i, x, y);
        let r = nalgebra::Vector2::new(xd - target.0, yd - target.1);
        if r.norm() < 1e-14 {
            return Some(Point3::new(x * depth_m, y * depth_m, depth_m));
        }
        let step = j.try_inverse()? * r;
        x -= step.x;
        y -= step.y;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{mount_pose, rig_from_optical_axes, rig_from_radar_axes};
    use proptest::prelude::*;

    fn intrinsics() -> Intrinsics {
        Intrinsics {
            fx_px: 1100.0,
            fy_px: 1100.0,
            cx_px: 722.5,
            cy_px: 538.0,
            k1: -0.12,
            k2: 0.03,
            p1: 0.0005,
            p2: -0.0003,
            k3: 0.0,
            width_px: 1440,
            height_px: 1080,
        }
    }

    fn extrinsic() -> Isometry3<f64> {
        let cam = mount_pose([0.0, 0.0, 1.5], [0.0, 0.035, 0.0], rig_from_optical_axes());
        let radar = mount_pose([0.05, 0.0, 1.0], [0.0, 0.0, 0.0087], rig_from_radar_axes());
        cam.inverse() * radar
    }

    #[test]
    fn agrees_with_the_plain_intrinsic_projection() {
        let i = intrinsics();
        let p = Point3::new(1.2, -0.4, 17.0);
        let (px, _) = project_point(&i, &p).expect("in front");
        assert_eq!(Some(px), i.project(&p));
        assert!(project_point(&i, &Point3::new(0.0, 0.0, f64::NAN)).is_none());
    }

    #[test]
    fn propagated_covariance_matches_sampled_spread() {
        // the analytic Jacobian against central differences of the whole chain
        let (i, e) = (intrinsics(), extrinsic());
        let m = RadarMeasurement {
            range_m: 25.0,
            azimuth_rad: 0.3,
            elevation_rad: 0.02,
            doppler_mps: -3.0,
        };
        let px = |m: &RadarMeasurement| {
            project_measurement(&i, &e, m, &RadarNoise::default())
                .expect("visible")
                .pixel
        };
        let h = [1e-4, 1e-7, 1e-7];
        let est = project_measurement(&i, &e, &m, &RadarNoise::default()).expect("visible");
        let mut jac = Matrix2x3::zeros();
        for k in 0..3 {
            let (mut a, mut b) = (m, m);
            match k {
                0 => (a.range_m += h[0], b.range_m -= h[0]),
                1 => (a.azimuth_rad += h[1], b.azimuth_rad -= h[1]),
                _ => (a.elevation_rad += h[2], b.elevation_rad -= h[2]),
            };
            let d = (px(&a) - px(&b)) / (2.0 * h[k]);
            jac[(0, k)] = d.x;
            jac[(1, k)] = d.y;
        }
        let n = RadarNoise::default();
        let s = Matrix3::from_diagonal(&nalgebra::Vector3::new(
            n.range_m.powi(2),
            n.azimuth_rad.powi(2),
            n.elevation_rad.powi(2),
        ));
        let numeric = jac * s * jac.transpose();
        let rel = (numeric - est.covariance_px2).norm() / est.covariance_px2.norm();
        assert!(rel < 1e-5, "relative difference {rel}");
        // the worst direction is elevation: 0.6° at 1100 px focal length is about 11.5 px
        assert!(
            (est.max_sigma_px() - 11.5).abs() < 1.0,
            "{}",
            est.max_sigma_px()
        );
        assert!(est.depth_m > 20.0);
    }

    proptest! {
        #[test]
        fn projection_round_trips(
            range in 2.0f64..80.0,
            az in -0.5f64..0.5,
            el in -0.12f64..0.12,
        ) {
            let (i, e) = (intrinsics(), extrinsic());
            let m = RadarMeasurement { range_m: range, azimuth_rad: az, elevation_rad: el, doppler_mps: 0.0 };
            let est = project_measurement(&i, &e, &m, &RadarNoise::default()).expect("in front");
            let p_cam = unproject(&i, &est.pixel, est.depth_m).expect("converges");
            let back = RadarMeasurement::from_point(&(e.inverse() * p_cam), 0.0);
            prop_assert!((back.range_m - range).abs() < 1e-9, "range {} vs {}", back.range_m, range);
            prop_assert!((back.azimuth_rad - az).abs() < 1e-9);
            prop_assert!((back.elevation_rad - el).abs() < 1e-9);
        }
    }
}
