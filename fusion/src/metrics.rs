//! Tracking metrics against ground truth, counted exactly the way py-motmetrics 1.4 counts
//! them (CLEAR-MOT and the ID measures), with squared Euclidean distance on the ground plane
//! and a match threshold:
//!
//! 1. every object whose last matched hypothesis is present and within the threshold keeps it
//!    (objects in their given order);
//! 2. the remaining objects and hypotheses are assigned by minimum total squared distance,
//!    maximising the number of pairs first;
//! 3. a pair whose object was last matched to another hypothesis is a SWITCH, otherwise a
//!    MATCH (so `num_matches` excludes switches, as in motmetrics);
//! 4. unmatched objects are misses, unmatched hypotheses false positives.
//!
//! IDF1 comes from the global one-to-one object↔hypothesis id assignment that maximises the
//! number of frames in which the pair lies within the threshold (motmetrics' min-cost
//! `id_global_assignment`).

use crate::assignment::{max_weight_pairs, min_cost_pairs};
use rustc_hash::FxHashMap;
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
    /// MATCH events: matched object-frames whose hypothesis did not change.
    pub num_matches: u64,
    /// SWITCH events: matched object-frames whose hypothesis differs from the object's last one.
    pub num_switches: u64,
    /// Object-frames without a match.
    pub num_misses: u64,
    /// Hypothesis-frames without a match.
    pub num_false_positives: u64,
    /// Object-frames seen.
    pub num_objects: u64,
    /// Hypothesis-frames seen.
    pub num_predictions: u64,
    /// Frames accumulated.
    pub num_frames: u64,
    /// Last hypothesis each object was matched to (never forgotten, as in motmetrics).
    last_match: BTreeMap<u64, u64>,
    /// Frames each object appeared in.
    object_frames: FxHashMap<u64, u64>,
    /// Frames each hypothesis appeared in (the demo rig starts some 3,000 tracks an hour).
    hypothesis_frames: FxHashMap<u64, u64>,
    /// Frames each (hypothesis, object) pair was within the threshold.
    ///
    /// The three are hash maps: they are looked up for every object, hypothesis and close
    /// pair of every frame, and walked in id order only once, for [`MotCounter::idtp`]. As
    /// sorted vectors they took a binary search each.
    pair_frames: FxHashMap<(u64, u64), u64>,
}

/// The one-row summary of a tracking evaluation (`tracking.parquet`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotSummary {
    /// SWITCH events.
    pub num_switches: u64,
    /// MATCH events (switches excluded).
    pub num_matches: u64,
    /// Missed object-frames.
    pub num_misses: u64,
    /// False-positive hypothesis-frames.
    pub num_false_positives: u64,
    /// Object-frames.
    pub num_objects: u64,
    /// Hypothesis-frames.
    pub num_predictions: u64,
    /// Frames evaluated.
    pub num_frames: u64,
    /// 1 − (misses + switches + false positives) / objects; NaN without objects.
    pub mota: f64,
    /// 2·IDTP / (objects + predictions); NaN when both are zero.
    pub idf1: f64,
    /// ID true positives of the global id assignment.
    pub idtp: u64,
    /// Match threshold, m.
    pub match_threshold_m: f64,
}

impl MotCounter {
    /// A counter with the given match threshold (m).
    pub fn new(match_threshold_m: f64) -> Self {
        Self {
            match_threshold_m,
            ..Self::default()
        }
    }

    /// Accumulates one frame of truth objects and hypotheses, in the order given (the order
    /// matters for step 1 exactly as it does in motmetrics). Returns the number of SWITCH
    /// events in this frame.
    pub fn update(&mut self, objects: &[Labeled], hypotheses: &[Labeled]) -> u64 {
        let max_d2 = self.match_threshold_m * self.match_threshold_m;
        let d2 = |o: &Labeled, h: &Labeled| {
            let (dx, dy) = (o.x_m - h.x_m, o.y_m - h.y_m);
            dx * dx + dy * dy
        };
        let valid = |o: &Labeled, h: &Labeled| d2(o, h) <= max_d2;
        self.num_frames += 1;
        self.num_objects += objects.len() as u64;
        self.num_predictions += hypotheses.len() as u64;
        for o in objects {
            *self.object_frames.entry(o.id).or_default() += 1;
            for h in hypotheses {
                if valid(o, h) {
                    *self.pair_frames.entry((h.id, o.id)).or_default() += 1;
                }
            }
        }
        for h in hypotheses {
            *self.hypothesis_frames.entry(h.id).or_default() += 1;
        }
        let mut obj_taken = vec![false; objects.len()];
        let mut hyp_taken = vec![false; hypotheses.len()];
        let mut switches = 0;
        if !objects.is_empty() && !hypotheses.is_empty() {
            // 1. carry forward established correspondences that are still valid
            for (oi, o) in objects.iter().enumerate() {
                let Some(&hprev) = self.last_match.get(&o.id) else {
                    continue;
                };
                let Some(hi) =
                    (0..hypotheses.len()).find(|&j| !hyp_taken[j] && hypotheses[j].id == hprev)
                else {
                    continue;
                };
                if valid(o, &hypotheses[hi]) {
                    obj_taken[oi] = true;
                    hyp_taken[hi] = true;
                    self.num_matches += 1;
                }
            }
            // 2. assign the rest by minimum total squared distance
            let free_o: Vec<usize> = (0..objects.len()).filter(|&i| !obj_taken[i]).collect();
            let free_h: Vec<usize> = (0..hypotheses.len()).filter(|&i| !hyp_taken[i]).collect();
            for (a, b) in min_cost_pairs(free_o.len(), free_h.len(), |a, b| {
                let (o, h) = (&objects[free_o[a]], &hypotheses[free_h[b]]);
                valid(o, h).then(|| d2(o, h))
            }) {
                let (oi, hi) = (free_o[a], free_h[b]);
                let (oid, hid) = (objects[oi].id, hypotheses[hi].id);
                if self.last_match.get(&oid).is_some_and(|&prev| prev != hid) {
                    self.num_switches += 1;
                    switches += 1;
                } else {
                    self.num_matches += 1;
                }
                self.last_match.insert(oid, hid);
                obj_taken[oi] = true;
                hyp_taken[hi] = true;
            }
        }
        self.num_misses += obj_taken.iter().filter(|t| !**t).count() as u64;
        self.num_false_positives += hyp_taken.iter().filter(|t| !**t).count() as u64;
        switches
    }

    /// Switches per matched object-frame (MATCH + SWITCH); `None` before any match.
    pub fn switch_rate(&self) -> Option<f64> {
        let matched = self.num_matches + self.num_switches;
        (matched > 0).then(|| self.num_switches as f64 / matched as f64)
    }

    /// ID true positives: the most frames that a one-to-one object↔hypothesis id mapping
    /// keeps within the threshold.
    pub fn idtp(&self) -> u64 {
        let sorted = |ids: &FxHashMap<u64, u64>| {
            let mut ids: Vec<u64> = ids.keys().copied().collect();
            ids.sort_unstable();
            ids
        };
        let (oids, hids) = (sorted(&self.object_frames), sorted(&self.hypothesis_frames));
        let weight = |r: usize, c: usize| {
            self.pair_frames
                .get(&(hids[c], oids[r]))
                .copied()
                .unwrap_or(0)
        };
        max_weight_pairs(oids.len(), hids.len(), |r, c| weight(r, c) as i64)
            .into_iter()
            .map(|(r, c)| weight(r, c))
            .sum()
    }

    /// The summary motmetrics would report for the frames accumulated.
    pub fn summary(&self) -> MotSummary {
        let idtp = self.idtp();
        let ratio = |n: f64, d: u64| if d == 0 { f64::NAN } else { n / d as f64 };
        MotSummary {
            num_switches: self.num_switches,
            num_matches: self.num_matches,
            num_misses: self.num_misses,
            num_false_positives: self.num_false_positives,
            num_objects: self.num_objects,
            num_predictions: self.num_predictions,
            num_frames: self.num_frames,
            mota: 1.0
                - ratio(
                    (self.num_misses + self.num_switches + self.num_false_positives) as f64,
                    self.num_objects,
                ),
            idf1: ratio(2.0 * idtp as f64, self.num_objects + self.num_predictions),
            idtp,
            match_threshold_m: self.match_threshold_m,
        }
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
        assert_eq!(c.update(&[l(1, 0.0)], &[l(11, 0.1)]), 1);
        c.update(&[l(1, 0.0)], &[l(11, 0.1), l(12, 9.0)]);
        assert_eq!(c.num_matches, 3);
        assert_eq!(c.num_switches, 1);
        assert_eq!(c.num_false_positives, 1);
        assert_eq!(c.num_misses, 0);
        assert_eq!(c.switch_rate(), Some(0.25));
        let s = c.summary();
        assert!((s.mota - (1.0 - 2.0 / 4.0)).abs() < 1e-12);
        // id mapping 1↔10 covers 2 frames, 1↔11 covers 2: IDTP 2 of 4 objects + 5 predictions
        assert_eq!(s.idtp, 2);
        assert!((s.idf1 - 4.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn keeps_an_established_match_even_if_another_is_closer() {
        let mut c = MotCounter::new(2.0);
        c.update(&[l(1, 0.0)], &[l(10, 0.0)]);
        c.update(&[l(1, 0.0)], &[l(10, 1.5), l(11, 0.0)]);
        assert_eq!(c.num_switches, 0);
        assert_eq!(c.num_false_positives, 1);
    }

    #[test]
    fn an_old_correspondence_is_carried_over_a_gap() {
        // motmetrics remembers the last match for ever, not just for the previous frame
        let mut c = MotCounter::new(2.0);
        c.update(&[l(1, 0.0)], &[l(10, 0.0)]);
        c.update(&[l(1, 0.0)], &[]);
        c.update(&[l(1, 0.0)], &[l(11, 0.0), l(10, 1.9)]);
        assert_eq!(c.num_switches, 0);
        assert_eq!(
            (c.num_matches, c.num_misses, c.num_false_positives),
            (2, 1, 1)
        );
    }

    #[test]
    fn the_threshold_is_inclusive_on_squared_distance() {
        let mut c = MotCounter::new(2.0);
        c.update(&[l(1, 0.0)], &[l(10, 2.0)]);
        c.update(&[l(2, 0.0)], &[l(20, 2.000_001)]);
        assert_eq!((c.num_matches, c.num_misses), (1, 1));
    }
}
