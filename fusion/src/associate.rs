//! Explainable radar-to-camera association: per-pair gates, then a global assignment.

use crate::assignment::min_cost_pairs;
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
}

/// A radar object projected into the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectedObject {
    /// Projected centroid, px.
    pub pixel: Point2<f64>,
    /// Strongest detection's SNR, dB.
    pub snr_db: f64,
}

/// Gate parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssociationConfig {
    /// Margin added around a box for the position gate, px.
    pub margin_px: f64,
    /// Minimum radar SNR for the confidence gate, dB.
    pub min_snr_db: f64,
    /// Minimum detector score for the confidence gate.
    pub min_score: f64,
}

impl Default for AssociationConfig {
    fn default() -> Self {
        Self {
            margin_px: 20.0,
            min_snr_db: 12.0,
            min_score: 0.3,
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

/// One associated pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// Index of the detection.
    pub detection: usize,
    /// Index of the radar object.
    pub object: usize,
    /// Distance between the projected radar centroid and the box centre, px.
    pub residual_px: f64,
    /// The gates this pair passed.
    pub gates: GateOutcomes,
}

/// Result of associating one camera frame with radar objects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Association {
    /// Assigned pairs, by detection index.
    pub pairs: Vec<Pair>,
    /// Detections left without a radar partner.
    pub unmatched_detections: Vec<usize>,
}

/// Gates every (detection, object) pair, then assigns globally by pixel distance.
pub fn associate(
    boxes: &[BoxPx],
    objects: &[ProjectedObject],
    cfg: &AssociationConfig,
) -> Association {
    let gates = |d: usize, o: usize| GateOutcomes {
        position: boxes[d].contains_with_margin(&objects[o].pixel, cfg.margin_px),
        velocity: None,
        confidence: objects[o].snr_db >= cfg.min_snr_db && boxes[d].score >= cfg.min_score,
    };
    let distance = |d: usize, o: usize| (boxes[d].center() - objects[o].pixel).norm();
    let matched = min_cost_pairs(boxes.len(), objects.len(), |d, o| {
        gates(d, o).passed().then(|| distance(d, o))
    });
    let pairs: Vec<Pair> = matched
        .iter()
        .map(|&(d, o)| Pair {
            detection: d,
            object: o,
            residual_px: distance(d, o),
            gates: gates(d, o),
        })
        .collect();
    let unmatched_detections = (0..boxes.len())
        .filter(|d| !matched.iter().any(|&(md, _)| md == *d))
        .collect();
    Association {
        pairs,
        unmatched_detections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(x: f64, y: f64) -> BoxPx {
        BoxPx {
            x_px: x,
            y_px: y,
            width_px: 100.0,
            height_px: 80.0,
            score: 0.9,
        }
    }

    fn obj(x: f64, y: f64) -> ProjectedObject {
        ProjectedObject {
            pixel: Point2::new(x, y),
            snr_db: 20.0,
        }
    }

    #[test]
    fn assigns_inside_boxes_and_reports_the_rest() {
        let boxes = [bx(0.0, 0.0), bx(300.0, 0.0), bx(600.0, 600.0)];
        let objects = [obj(350.0, 40.0), obj(45.0, 45.0), obj(1000.0, 1000.0)];
        let a = associate(&boxes, &objects, &AssociationConfig::default());
        assert_eq!(a.pairs.len(), 2);
        assert_eq!((a.pairs[0].detection, a.pairs[0].object), (0, 1));
        assert_eq!((a.pairs[1].detection, a.pairs[1].object), (1, 0));
        assert!((a.pairs[1].residual_px - 0.0).abs() < 1e-9);
        assert_eq!(a.unmatched_detections, vec![2]);
    }

    #[test]
    fn weak_radar_fails_the_confidence_gate() {
        let boxes = [bx(0.0, 0.0)];
        let mut o = obj(50.0, 40.0);
        o.snr_db = 3.0;
        let a = associate(&boxes, &[o], &AssociationConfig::default());
        assert!(a.pairs.is_empty());
    }
}
