//! Frames, rigid transforms and the pinhole + Brown-Conrady camera model.
//!
//! Frames: `rig` (x forward, y left, z up, origin on the ground below the sensors), `radar`
//! (TI convention: x right, y boresight, z up), `camera` (optical: x right, y down, z forward),
//! `image` (pixels, origin top-left).

use nalgebra::{Isometry3, Matrix3, Point2, Point3, Rotation3, Translation3, UnitQuaternion};
use serde::{Deserialize, Serialize};

/// Pinhole intrinsics with Brown-Conrady distortion (k1, k2, p1, p2, k3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    /// Focal lengths, px.
    pub fx_px: f64,
    /// Focal length along y, px.
    pub fy_px: f64,
    /// Principal point, px.
    pub cx_px: f64,
    /// Principal point y, px.
    pub cy_px: f64,
    /// Radial distortion coefficients.
    pub k1: f64,
    /// Second radial coefficient.
    pub k2: f64,
    /// Tangential distortion coefficients.
    pub p1: f64,
    /// Second tangential coefficient.
    pub p2: f64,
    /// Third radial coefficient.
    pub k3: f64,
    /// Image size, px.
    pub width_px: u32,
    /// Image height, px.
    pub height_px: u32,
}

impl Intrinsics {
    /// Projects a point in the camera frame (m) to a pixel. `None` behind or too close to the
    /// camera (z < 0.1 m).
    pub fn project(&self, p: &Point3<f64>) -> Option<Point2<f64>> {
        if p.z < 0.1 {
            return None;
        }
        let (x, y) = (p.x / p.z, p.y / p.z);
        let r2 = x * x + y * y;
        let radial = 1.0 + self.k1 * r2 + self.k2 * r2 * r2 + self.k3 * r2 * r2 * r2;
        let xd = x * radial + 2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x);
        let yd = y * radial + self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y;
        Some(Point2::new(
            self.fx_px * xd + self.cx_px,
            self.fy_px * yd + self.cy_px,
        ))
    }

    /// Whether a pixel lies inside the image.
    pub fn contains(&self, px: &Point2<f64>) -> bool {
        px.x >= 0.0
            && px.y >= 0.0
            && px.x < f64::from(self.width_px)
            && px.y < f64::from(self.height_px)
    }

    /// Normalised distance of a pixel from the image centre: 0 at the centre, 1 at a corner.
    pub fn radial_fraction(&self, px: &Point2<f64>) -> f64 {
        let (hw, hh) = (
            f64::from(self.width_px) / 2.0,
            f64::from(self.height_px) / 2.0,
        );
        ((px.x - hw).powi(2) + (px.y - hh).powi(2)).sqrt() / (hw * hw + hh * hh).sqrt()
    }

    /// The region of the image a pixel is in: [`ImageRegion::Center`] nearer the image centre
    /// than half the way to a corner ([`Intrinsics::radial_fraction`] < 0.5), else
    /// [`ImageRegion::Edge`].
    pub fn region(&self, px: &Point2<f64>) -> ImageRegion {
        if self.radial_fraction(px) < 0.5 {
            ImageRegion::Center
        } else {
            ImageRegion::Edge
        }
    }

    /// The component (px) of the displacement from `at` to `to` along the ray from the
    /// principal point through `at`: positive when `to` lies farther out. A lens-model error
    /// (focal length, radial distortion) displaces points along that ray; a rotation about the
    /// optical axis displaces them across it. 0 when `at` is the principal point.
    pub fn radial_component_px(&self, at: &Point2<f64>, to: &Point2<f64>) -> f64 {
        let ray = at - Point2::new(self.cx_px, self.cy_px);
        let norm = ray.norm();
        if norm > 0.0 {
            (to - at).dot(&ray) / norm
        } else {
            0.0
        }
    }
}

/// The two regions of the image residuals are reported by (see [`Intrinsics::region`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageRegion {
    /// Nearer the image centre than half the way to a corner.
    Center,
    /// Half the way to a corner or beyond.
    Edge,
}

/// A rigid transform as stored in calibration files: translation (m) and unit quaternion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RigidTransform {
    /// Translation, m.
    pub translation_m: [f64; 3],
    /// Rotation quaternion as (x, y, z, w).
    pub rotation_xyzw: [f64; 4],
}

impl RigidTransform {
    /// Whether this is a rigid transform a rig can have: a translation within ±1 km and a
    /// quaternion of norm near 1 (0.5–2; it is normalised). Else the part that is not
    /// (`translation_m` or `rotation_xyzw`) and why.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if let Some(t) = self
            .translation_m
            .iter()
            .find(|t| !(t.is_finite() && t.abs() <= 1e3))
        {
            return Err((
                "translation_m",
                format!(
                    "each component must be within ±1000 m, got {}",
                    crate::shown::Shown(*t)
                ),
            ));
        }
        let norm = self.rotation_xyzw.iter().map(|q| q * q).sum::<f64>().sqrt();
        if !(0.5..=2.0).contains(&norm) {
            return Err((
                "rotation_xyzw",
                format!(
                    "must be a unit quaternion (x, y, z, w), got norm {}",
                    crate::shown::Shown(norm)
                ),
            ));
        }
        Ok(())
    }

    /// As an nalgebra isometry.
    pub fn isometry(&self) -> Isometry3<f64> {
        let [tx, ty, tz] = self.translation_m;
        let [x, y, z, w] = self.rotation_xyzw;
        Isometry3::from_parts(
            Translation3::new(tx, ty, tz),
            UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(w, x, y, z)),
        )
    }

    /// From an nalgebra isometry.
    pub fn from_isometry(iso: &Isometry3<f64>) -> Self {
        let q = iso.rotation.quaternion();
        let t = iso.translation.vector;
        Self {
            translation_m: [t.x, t.y, t.z],
            rotation_xyzw: [q.i, q.j, q.k, q.w],
        }
    }
}

/// Rotation taking optical camera axes (x right, y down, z forward) to rig axes.
pub fn rig_from_optical_axes() -> UnitQuaternion<f64> {
    UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(Matrix3::new(
        0.0, 0.0, 1.0, //
        -1.0, 0.0, 0.0, //
        0.0, -1.0, 0.0,
    )))
}

/// Rotation taking TI radar axes (x right, y boresight, z up) to rig axes.
pub fn rig_from_radar_axes() -> UnitQuaternion<f64> {
    UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(Matrix3::new(
        0.0, 1.0, 0.0, //
        -1.0, 0.0, 0.0, //
        0.0, 0.0, 1.0,
    )))
}

/// Pose in the rig of a sensor mounted at `position_m` with roll/pitch/yaw (rad) about the rig
/// axes, whose own axes are `axes` (e.g. [`rig_from_optical_axes`]).
pub fn mount_pose(
    position_m: [f64; 3],
    rpy_rad: [f64; 3],
    axes: UnitQuaternion<f64>,
) -> Isometry3<f64> {
    let [x, y, z] = position_m;
    let [r, p, yaw] = rpy_rad;
    Isometry3::from_parts(
        Translation3::new(x, y, z),
        UnitQuaternion::from_euler_angles(r, p, yaw) * axes,
    )
}

/// Radar spherical coordinates of a point in the radar frame: (range m, azimuth rad positive
/// right, elevation rad positive up).
pub fn radar_spherical(p: &Point3<f64>) -> (f64, f64, f64) {
    let range = p.coords.norm();
    let azimuth = p.x.atan2(p.y);
    let elevation = if range > 0.0 {
        (p.z / range).asin()
    } else {
        0.0
    };
    (range, azimuth, elevation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam() -> Intrinsics {
        Intrinsics {
            fx_px: 1000.0,
            fy_px: 1000.0,
            cx_px: 720.0,
            cy_px: 540.0,
            k1: 0.0,
            k2: 0.0,
            p1: 0.0,
            p2: 0.0,
            k3: 0.0,
            width_px: 1440,
            height_px: 1080,
        }
    }

    #[test]
    fn projects_the_optical_axis_to_the_principal_point() {
        let px = cam()
            .project(&Point3::new(0.0, 0.0, 10.0))
            .expect("in front");
        assert_eq!((px.x, px.y), (720.0, 540.0));
        assert!(cam().project(&Point3::new(0.0, 0.0, -1.0)).is_none());
        let px = cam()
            .project(&Point3::new(1.0, -0.5, 10.0))
            .expect("in front");
        assert_eq!((px.x, px.y), (820.0, 490.0));
    }

    #[test]
    fn a_lens_error_is_radial_and_a_roll_is_not() {
        let c = cam();
        // the true lens has barrel distortion; the model (cam) has none: a point is drawn
        // farther out by the model than the lens images it, more so toward the edge
        let lens = Intrinsics { k1: -0.12, ..c };
        let mut outward = Vec::new();
        for p in [Point3::new(0.1, 0.05, 10.0), Point3::new(5.0, 2.0, 10.0)] {
            let (seen, drawn) = (
                lens.project(&p).expect("in front"),
                c.project(&p).expect("in front"),
            );
            let radial = c.radial_component_px(&seen, &drawn);
            assert!(radial > 0.0, "{radial}");
            assert!((radial - (drawn - seen).norm()).abs() < 1e-9 * radial.max(1.0));
            outward.push(radial);
        }
        assert!(outward[1] > 100.0 * outward[0], "{outward:?}");
        // a small rotation about the optical axis moves a point across its ray
        let p = Point3::new(5.0, 2.0, 10.0);
        let rolled = Rotation3::from_axis_angle(&nalgebra::Vector3::z_axis(), 0.02) * p;
        let (at, to) = (
            c.project(&p).expect("in front"),
            c.project(&rolled).expect("in front"),
        );
        let radial = c.radial_component_px(&at, &to);
        assert!(radial.abs() < 0.05 * (to - at).norm(), "{radial}");
        // at the principal point there is no ray
        let centre = Point2::new(c.cx_px, c.cy_px);
        assert_eq!(c.radial_component_px(&centre, &Point2::new(9.0, 9.0)), 0.0);
    }

    #[test]
    fn the_centre_region_ends_half_way_to_a_corner() {
        let c = cam();
        assert_eq!(c.region(&Point2::new(720.0, 540.0)), ImageRegion::Center);
        // the corner is 900 px from the centre
        assert_eq!(
            c.region(&Point2::new(720.0 + 449.0, 540.0)),
            ImageRegion::Center
        );
        assert_eq!(
            c.region(&Point2::new(720.0 + 450.0, 540.0)),
            ImageRegion::Edge
        );
        assert_eq!(c.region(&Point2::new(0.0, 0.0)), ImageRegion::Edge);
    }

    #[test]
    fn axes_conventions_agree() {
        // A point 10 m ahead of the rig is on the camera's +z and the radar's +y.
        let ahead = Point3::new(10.0, 0.0, 0.0);
        let cam_in_rig = mount_pose([0.0; 3], [0.0; 3], rig_from_optical_axes());
        let radar_in_rig = mount_pose([0.0; 3], [0.0; 3], rig_from_radar_axes());
        let c = cam_in_rig.inverse() * ahead;
        let r = radar_in_rig.inverse() * ahead;
        assert!((c - Point3::new(0.0, 0.0, 10.0)).norm() < 1e-12, "{c}");
        assert!((r - Point3::new(0.0, 10.0, 0.0)).norm() < 1e-12, "{r}");
        // A point to the rig's left is at camera -x and radar -x.
        let left = Point3::new(10.0, 2.0, 1.0);
        let c = cam_in_rig.inverse() * left;
        let r = radar_in_rig.inverse() * left;
        assert!(c.x < 0.0 && c.y < 0.0 && r.x < 0.0 && r.z > 0.0);
        let (range, az, el) = radar_spherical(&r);
        assert!((range - (105.0f64).sqrt()).abs() < 1e-9 && az < 0.0 && el > 0.0);
    }

    #[test]
    fn rigid_transform_round_trips() {
        let iso = mount_pose([0.1, -0.2, 1.3], [0.01, -0.02, 0.03], rig_from_radar_axes());
        let back = RigidTransform::from_isometry(&iso).isometry();
        let p = Point3::new(3.0, 4.0, 5.0);
        assert!((iso * p - back * p).norm() < 1e-12);
    }
}
