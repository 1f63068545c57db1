//! Tracking metrics against ground truth, counted the way py-motmetrics counts them
//! (CLEAR-MOT): previous matches are kept while still within the threshold, the rest are
//! assigned by minimum total distance, and a switch is an object matched to a hypothesis other
//! than the one it was last matched to.

use crate::assignment::min_cost_pairs;
use std::collections::BTreeMap;

/// A point on the rig ground plane with an identity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Labeled {
    /// Object id (truth) or track id (hypothesis).
    pub id: u64,
    /// Position, m.
    pub x_m: f64,
    /// Position y, m.
    pub y_m: f64,
}

/// CLEAR-MOT event counts accumulated over frames.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MotCounter {
    /// Match threshold, m (Euclidean on the ground plane).
    pub match_threshold_m: f64,
    /// Matched object-frames.
    pub num_matches: u64,
    /// Matches whose hypothesis differs from the object's previous one.
    pub num_switches: u64,
    /// Object-frames without a match.
    pub num_misses: u64,
    /// Hypothesis-frames without a match.
    pub num_false_positives: u64,
    /// Object-frames seen.
    pub num_objects: u64,
    last_match: BTreeMap<u64, u64>,
    active: BTreeMap<u64, u64>,
}

impl MotCounter {
    /// A counter with the given match threshold (m).
    pub fn new(match_threshold_m: f64) -> Self {
        Self {
            match_threshold_m,
            ..Self::default()
        }
    }

    /// Accumulates one frame of truth objects and hypotheses.
    pub fn update(&mut self, objects: &[Labeled], hypotheses: &[Labeled]) {
        let dist =
            |o: &Labeled, h: &Labeled| ((o.x_m - h.x_m).powi(2) + (o.y_m - h.y_m).powi(2)).sqrt();
        let thr = self.match_threshold_m;
        let mut obj_taken = vec![false; objects.len()];
        let mut hyp_taken = vec![false; hypotheses.len()];
        let mut matches: Vec<(usize, usize)> = Vec::new();
        // 1. keep the previous frame's matches that are still valid
        for (oi, o) in objects.iter().enumerate() {
            if let Some(&hid) = self.active.get(&o.id)
                && let Some(hi) = hypotheses.iter().position(|h| h.id == hid)
                && !hyp_taken[hi]
                && dist(o, &hypotheses[hi]) <= thr
            {
                obj_taken[oi] = true;
                hyp_taken[hi] = true;
                matches.push((oi, hi));
            }
        }
        // 2. assign the rest by minimum total distance
        let free_o: Vec<usize> = (0..objects.len()).filter(|&i| !obj_taken[i]).collect();
        let free_h: Vec<usize> = (0..hypotheses.len()).filter(|&i| !hyp_taken[i]).collect();
        for (a, b) in min_cost_pairs(free_o.len(), free_h.len(), |a, b| {
            let d = dist(&objects[free_o[a]], &hypotheses[free_h[b]]);
            (d <= thr).then_some(d * d)
        }) {
            let (oi, hi) = (free_o[a], free_h[b]);
            obj_taken[oi] = true;
            hyp_taken[hi] = true;
            matches.push((oi, hi));
        }
        self.active.clear();
        for &(oi, hi) in &matches {
            let (oid, hid) = (objects[oi].id, hypotheses[hi].id);
            if self.last_match.get(&oid).is_some_and(|&prev| prev != hid) {
                self.num_switches += 1;
            }
            self.last_match.insert(oid, hid);
            self.active.insert(oid, hid);
        }
        self.num_objects += objects.len() as u64;
        self.num_matches += matches.len() as u64;
        self.num_misses += obj_taken.iter().filter(|t| !**t).count() as u64;
        self.num_false_positives += hyp_taken.iter().filter(|t| !**t).count() as u64;
    }

    /// Switches per matched object-frame; `None` before any match.
    pub fn switch_rate(&self) -> Option<f64> {
        (self.num_matches > 0).then(|| self.num_switches as f64 / self.num_matches as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(id: u64, x: f64) -> Labeled {
        Labeled {
            id,
            x_m: x,
            y_m: 0.0,
        }
    }

    #[test]
    fn counts_a_switch_when_the_hypothesis_changes() {
        let mut c = MotCounter::new(2.0);
        c.update(&[l(1, 0.0)], &[l(10, 0.1)]);
        c.update(&[l(1, 0.0)], &[l(10, 0.1)]);
        c.update(&[l(1, 0.0)], &[l(11, 0.1)]);
        c.update(&[l(1, 0.0)], &[l(11, 0.1), l(12, 9.0)]);
        assert_eq!(c.num_matches, 4);
        assert_eq!(c.num_switches, 1);
        assert_eq!(c.num_false_positives, 1);
        assert_eq!(c.num_misses, 0);
        assert_eq!(c.switch_rate(), Some(0.25));
    }

    #[test]
    fn keeps_a_valid_previous_match_even_if_another_is_closer() {
        let mut c = MotCounter::new(2.0);
        c.update(&[l(1, 0.0)], &[l(10, 0.0)]);
        c.update(&[l(1, 0.0)], &[l(10, 1.5), l(11, 0.0)]);
        assert_eq!(c.num_switches, 0);
        assert_eq!(c.num_false_positives, 1);
    }
}
