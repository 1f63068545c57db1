//! Explainable radar-to-camera association: three gates per (detection, radar object) pair,
//! then a global minimum-cost assignment, with every candidate pair and its gate outcomes kept.
//!
//! - **position**: the projected radar centroid lies inside the box grown by a margin
//!   (`margin_px` plus `sigma_k` times the projection's worst-direction sigma);
//! - **velocity**: the radar's radial speed agrees with the camera-derived one, `−range ×
//!   d ln(box height)/dt` (a box grows as its object approaches), when the camera has enough
//!   history for that box to tell;
//! - **confidence**: radar SNR and detector score above their minima.

use crate::assignment::min_cost_pairs;
use crate::camera_motion::Rate;
use nalgebra::Point2;

/// A camera detection box in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxPx {
    /// Left edge, px.
    pub x_px: f64,
    /// Top edge, px.
    pub y_px: f64,
    /// Width, px.
    pub width_px: f64,
    /// Height, px.
    pub height_px: f64,
    /// Detector score in [0, 1].
    pub score: f64,
    /// Relative growth rate of the box height, d ln(height)/dt, from the camera's own history
    /// of this object; `None` when there is not enough history.
    pub scale_rate: Option<Rate>,
}

impl BoxPx {
    /// Box centre, px.
    pub fn center(&self) -> Point2<f64> {
        Point2::new(
            self.x_px + self.width_px / 2.0,
            self.y_px + self.height_px / 2.0,
        )
    }

    /// Whether `p` lies inside the box grown by `margin_px` on every side.
    pub fn contains_with_margin(&self, p: &Point2<f64>, margin_px: f64) -> bool {
        p.x >= self.x_px - margin_px
            && p.x <= self.x_px + self.width_px + margin_px
            && p.y >= self.y_px - margin_px
            && p.y <= self.y_px + self.height_px + margin_px
    }

    /// Whether every field is finite, the size positive and the score in [0, 1].
    pub fn is_valid(&self) -> bool {
        [
            self.x_px,
            self.y_px,
            self.width_px,
            self.height_px,
            self.score,
        ]
        .iter()
        .all(|v| v.is_finite())
            && self.width_px > 0.0
            && self.height_px > 0.0
            && (0.0..=1.0).contains(&self.score)
            && self
                .scale_rate
                .is_none_or(|r| r.per_s.is_finite() && r.sigma_per_s.is_finite())
    }
}

/// A radar object projected into the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectedObject {
    /// Projected centroid, px.
    pub pixel: Point2<f64>,
    /// Worst-direction one-sigma of the projection, px.
    pub sigma_px: f64,
    /// Range of the object from the radar, m.
    pub range_m: f64,
    /// Radial velocity, m/s, positive away from the radar.
    pub doppler_mps: f64,
    /// Strongest detection's SNR, dB.
    pub snr_db: f64,
}

/// Gate parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssociationConfig {
    /// Margin added around a box for the position gate, px.
    pub margin_px: f64,
    /// Sigmas of the projection's uncertainty added to the margin.
    pub sigma_k: f64,
    /// Largest |radar radial speed − camera-derived radial speed| that passes, m/s, on top of
    /// `velocity_sigma_k` standard errors of the camera-derived speed.
    pub velocity_tolerance_mps: f64,
    /// Standard errors of the camera-derived radial speed added to the velocity tolerance.
    pub velocity_sigma_k: f64,
    /// The velocity gate is evaluated only when the camera-derived radial speed's standard
    /// error is at most this, m/s: a vaguer estimate cannot tell objects apart.
    pub velocity_max_sigma_mps: f64,
    /// Minimum radar SNR for the confidence gate, dB.
    pub min_snr_db: f64,
    /// Minimum detector score for the confidence gate.
    pub min_score: f64,
    /// Pairs whose projected point is farther than this outside the box are not candidates
    /// (not recorded), px.
    pub candidate_radius_px: f64,
}

impl Default for AssociationConfig {
    fn default() -> Self {
        Self {
            margin_px: 20.0,
            sigma_k: 2.0,
            velocity_tolerance_mps: 2.0,
            velocity_sigma_k: 3.0,
            velocity_max_sigma_mps: 1.5,
            min_snr_db: 12.0,
            min_score: 0.3,
            candidate_radius_px: 150.0,
        }
    }
}

/// Outcome of each gate for one (detection, radar object) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateOutcomes {
    /// Projected point inside the box plus margin.
    pub position: bool,
    /// Radar radial speed consistent with camera-derived motion; `None` when not evaluated.
    pub velocity: Option<bool>,
    /// SNR and detector score above their minima.
    pub confidence: bool,
}

impl GateOutcomes {
    /// Whether every evaluated gate passed.
    pub fn passed(&self) -> bool {
        self.position && self.confidence && self.velocity.unwrap_or(true)
    }
}

/// One candidate pair, its measurements and its gate outcomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Index of the detection.
    pub detection: usize,
    /// Index of the radar object.
    pub object: usize,
    /// Distance between the projected radar centroid and the box centre, px.
    pub residual_px: f64,
    /// Margin the position gate used, px.
    pub margin_px: f64,
    /// Camera-derived radial speed, m/s, when evaluated.
    pub camera_radial_mps: Option<f64>,
    /// Tolerance the velocity gate used (base + k·standard error), m/s, when evaluated.
    pub velocity_tolerance_mps: Option<f64>,
    /// The gates' outcomes.
    pub gates: GateOutcomes,
    /// Whether the global assignment chose this pair.
    pub assigned: bool,
}

/// Result of associating one camera frame with radar objects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Association {
    /// Every candidate pair (projected point within `candidate_radius_px` of the box), by
    /// (detection, object).
    pub candidates: Vec<Candidate>,
    /// Detections left without a radar partner.
    pub unmatched_detections: Vec<usize>,
}

impl Association {
    /// The assigned pairs, by detection index: one-to-one, each detection and each object
    /// in at most one.
    pub fn pairs(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.iter().filter(|c| c.assigned)
    }
}

/// Gates every (detection, object) pair, then assigns globally by pixel distance.
pub fn associate(
    boxes: &[BoxPx],
    objects: &[ProjectedObject],
    cfg: &AssociationConfig,
) -> Association {
    // sized once for the worst case (every pair a candidate) instead of grown pair by pair
    let mut candidates = Vec::with_capacity(boxes.len() * objects.len());
    for (d, b) in boxes.iter().enumerate() {
        for (o, obj) in objects.iter().enumerate() {
            if !b.contains_with_margin(&obj.pixel, cfg.candidate_radius_px) {
                continue;
            }
            let margin_px = cfg.margin_px + cfg.sigma_k * obj.sigma_px;
            let informative = b
                .scale_rate
                .filter(|r| obj.range_m * r.sigma_per_s <= cfg.velocity_max_sigma_mps);
            let camera_radial_mps = informative.map(|r| -obj.range_m * r.per_s);
            let velocity_tolerance_mps = informative.map(|r| {
                cfg.velocity_tolerance_mps + cfg.velocity_sigma_k * obj.range_m * r.sigma_per_s
            });
            candidates.push(Candidate {
                detection: d,
                object: o,
                residual_px: (b.center() - obj.pixel).norm(),
                margin_px,
                camera_radial_mps,
                velocity_tolerance_mps,
                gates: GateOutcomes {
                    position: b.contains_with_margin(&obj.pixel, margin_px),
                    velocity: camera_radial_mps
                        .zip(velocity_tolerance_mps)
                        .map(|(c, tol)| (c - obj.doppler_mps).abs() <= tol),
                    confidence: obj.snr_db >= cfg.min_snr_db && b.score >= cfg.min_score,
                },
                assigned: false,
            });
        }
    }
    // candidate index of each (detection, object) cell that passed every gate
    let n_obj = objects.len();
    let mut cell: Vec<Option<usize>> = vec![None; boxes.len() * n_obj];
    for (i, c) in candidates.iter().enumerate() {
        if c.gates.passed() {
            cell[c.detection * n_obj + c.object] = Some(i);
        }
    }
    let matched = min_cost_pairs(boxes.len(), n_obj, |d, o| {
        cell[d * n_obj + o].map(|i| candidates[i].residual_px)
    });
    for &(d, o) in &matched {
        if let Some(i) = cell[d * n_obj + o] {
            candidates[i].assigned = true;
        }
    }
    let unmatched_detections = (0..boxes.len())
        .filter(|d| !matched.iter().any(|&(md, _)| md == *d))
        .collect();
    Association {
        candidates,
        unmatched_detections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bx(x: f64, y: f64) -> BoxPx {
        BoxPx {
            x_px: x,
            y_px: y,
            width_px: 100.0,
            height_px: 80.0,
            score: 0.9,
            scale_rate: None,
        }
    }

    fn obj(x: f64, y: f64) -> ProjectedObject {
        ProjectedObject {
            pixel: Point2::new(x, y),
            sigma_px: 0.0,
            range_m: 20.0,
            doppler_mps: 0.0,
            snr_db: 20.0,
        }
    }

    fn assigned(a: &Association) -> Vec<(usize, usize)> {
        a.pairs().map(|c| (c.detection, c.object)).collect()
    }

    #[test]
    fn assigns_inside_boxes_and_reports_the_rest() {
        let boxes = [bx(0.0, 0.0), bx(300.0, 0.0), bx(600.0, 600.0)];
        let objects = [obj(350.0, 40.0), obj(45.0, 45.0), obj(1000.0, 1000.0)];
        let a = associate(&boxes, &objects, &AssociationConfig::default());
        assert_eq!(assigned(&a), vec![(0, 1), (1, 0)]);
        assert!(a.pairs().any(|c| c.residual_px.abs() < 1e-9));
        assert_eq!(a.unmatched_detections, vec![2]);
        // the far object is a candidate of the third box only if within the radius: it is not
        assert!(a.candidates.iter().all(|c| c.object != 2));
    }

    #[test]
    fn weak_radar_fails_the_confidence_gate_and_is_recorded() {
        let boxes = [bx(0.0, 0.0)];
        let mut o = obj(50.0, 40.0);
        o.snr_db = 3.0;
        let a = associate(&boxes, &[o], &AssociationConfig::default());
        assert_eq!(assigned(&a), vec![]);
        assert_eq!(a.candidates.len(), 1);
        let g = a.candidates[0].gates;
        assert!(g.position && !g.confidence && g.velocity.is_none());
    }

    #[test]
    fn the_velocity_gate_splits_two_objects_behind_one_box() {
        // approaching at 5 m/s from 20 m: the box grows at 0.25 /s
        let mut b = bx(0.0, 0.0);
        b.scale_rate = Some(Rate {
            per_s: 0.25,
            sigma_per_s: 0.01,
        });
        let mut receding = obj(50.0, 40.0);
        receding.doppler_mps = 6.0;
        let mut approaching = obj(60.0, 45.0);
        approaching.doppler_mps = -5.2;
        let a = associate(
            &[b],
            &[receding, approaching],
            &AssociationConfig::default(),
        );
        assert_eq!(assigned(&a), vec![(0, 1)]);
        assert_eq!(a.candidates[0].gates.velocity, Some(false));
        assert_eq!(a.candidates[1].camera_radial_mps, Some(-5.0));
        // a vague camera estimate is not used at all
        b.scale_rate = Some(Rate {
            per_s: 0.25,
            sigma_per_s: 0.1,
        });
        let a = associate(
            &[b],
            &[receding, approaching],
            &AssociationConfig::default(),
        );
        assert!(a.candidates.iter().all(|c| c.gates.velocity.is_none()));
    }

    #[test]
    fn projection_uncertainty_widens_the_position_gate() {
        let mut o = obj(130.0, 40.0); // 30 px right of the box
        let a = associate(&[bx(0.0, 0.0)], &[o], &AssociationConfig::default());
        assert!(!a.candidates[0].gates.position);
        o.sigma_px = 6.0;
        let a = associate(&[bx(0.0, 0.0)], &[o], &AssociationConfig::default());
        assert!(a.candidates[0].gates.position);
        assert_eq!(a.candidates[0].margin_px, 32.0);
    }

    proptest! {
        #[test]
        fn output_does_not_depend_on_input_order(
            boxes in prop::collection::vec((0.0f64..1200.0, 0.0f64..900.0, 0.3f64..1.0), 1..12),
            objs in prop::collection::vec((0.0f64..1300.0, 0.0f64..1000.0, 5.0f64..30.0), 1..16),
            rot_b in 0usize..12,
            rot_o in 0usize..16,
        ) {
            let boxes: Vec<BoxPx> = boxes.iter().map(|&(x, y, s)| BoxPx { score: s, ..bx(x, y) }).collect();
            let objects: Vec<ProjectedObject> =
                objs.iter().map(|&(x, y, snr)| ProjectedObject { snr_db: snr, ..obj(x, y) }).collect();
            let cfg = AssociationConfig::default();
            let a = associate(&boxes, &objects, &cfg);
            // reverse and rotate both inputs; map indices back
            let bperm: Vec<usize> = (0..boxes.len()).rev().cycle().skip(rot_b % boxes.len()).take(boxes.len()).collect();
            let operm: Vec<usize> = (0..objects.len()).rev().cycle().skip(rot_o % objects.len()).take(objects.len()).collect();
            let b2: Vec<BoxPx> = bperm.iter().map(|&i| boxes[i]).collect();
            let o2: Vec<ProjectedObject> = operm.iter().map(|&i| objects[i]).collect();
            let a2 = associate(&b2, &o2, &cfg);
            let mut back: Vec<(usize, usize)> =
                a2.pairs().map(|c| (bperm[c.detection], operm[c.object])).collect();
            back.sort_unstable();
            prop_assert_eq!(back, assigned(&a));
            let mut gates2: Vec<(usize, usize, GateOutcomes)> =
                a2.candidates.iter().map(|c| (bperm[c.detection], operm[c.object], c.gates)).collect();
            gates2.sort_by_key(|g| (g.0, g.1));
            let gates: Vec<(usize, usize, GateOutcomes)> =
                a.candidates.iter().map(|c| (c.detection, c.object, c.gates)).collect();
            prop_assert_eq!(gates2, gates);
        }
    }
}
