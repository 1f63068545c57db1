//! The shared clock policy around any estimator, as linuxptp's servo wrapper does it: step
//! detection (a device clock that jumped, e.g. a camera reset), sync epochs, lock promotion,
//! and a plausibility check of every mapped frame. Estimators only estimate; this decides.

use super::{ArrivalSample, ClockEstimate, ClockEstimator, LatchSample};

/// Thresholds of the clock policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncPolicy {
    /// Once locked, a sample this far (ns) from the prediction is a step suspect.
    pub step_threshold_ns: i64,
    /// Consecutive suspects that confirm a step (a single one is an outlier and is dropped).
    pub step_confirm: u32,
    /// Samples (bursts for latch estimators) before the clock may lock.
    pub lock_min_samples: usize,
    /// Device time (ns) the epoch's samples must span before the clock may lock.
    pub lock_min_span_ns: i64,
    /// Largest estimate uncertainty (ns) at which the clock may lock.
    pub lock_max_uncertainty_ns: f64,
    /// A frame mapped more than this (ns) before its arrival, or after it, is implausible.
    pub max_frame_latency_ns: i64,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        Self {
            step_threshold_ns: 2_000_000,
            step_confirm: 2,
            lock_min_samples: 4,
            lock_min_span_ns: 1_500_000_000,
            lock_max_uncertainty_ns: 200_000.0,
            max_frame_latency_ns: 1_000_000_000,
        }
    }
}

/// Something the policy decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockEvent {
    /// A device clock step was confirmed; the estimator restarted in a new epoch.
    Stepped {
        /// The new sync epoch.
        epoch: u64,
        /// Residual of the sample that confirmed it, ns.
        residual_ns: i64,
    },
    /// The clock locked (first time, or again after a step).
    Locked {
        /// The epoch it locked in.
        epoch: u64,
    },
}

/// A device time mapped to host time, with what the policy knows about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockMapping {
    /// Host CLOCK_MONOTONIC_RAW, ns.
    pub host_ns: i64,
    /// One-sigma uncertainty, ns.
    pub uncertainty_ns: f64,
    /// Whether the clock was locked and the mapping plausible.
    pub locked: bool,
    /// Sync epoch the mapping belongs to.
    pub epoch: u64,
}

/// An estimator under the shared policy.
pub struct ClockSync {
    estimator: Box<dyn ClockEstimator>,
    policy: SyncPolicy,
    epoch: u64,
    locked: bool,
    suspect_latches: Vec<LatchSample>,
    suspect_arrivals: Vec<ArrivalSample>,
    epoch_first_device_ns: Option<i64>,
    last_device_ns: i64,
}

impl ClockSync {
    /// Wraps `estimator` with `policy`.
    pub fn new(estimator: Box<dyn ClockEstimator>, policy: SyncPolicy) -> Self {
        Self {
            estimator,
            policy,
            epoch: 0,
            locked: false,
            suspect_latches: Vec::new(),
            suspect_arrivals: Vec::new(),
            epoch_first_device_ns: None,
            last_device_ns: 0,
        }
    }

    /// The estimator's registered name.
    pub fn estimator_name(&self) -> &'static str {
        self.estimator.name()
    }

    /// Current sync epoch (0 until the first step).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether the clock is locked.
    pub fn locked(&self) -> bool {
        self.locked
    }

    /// Whether latch pairs inform the wrapped estimator (otherwise frame arrivals do).
    pub fn uses_latches(&self) -> bool {
        self.estimator.uses_latches()
    }

    /// The estimator's current estimate.
    pub fn estimate(&self) -> Option<ClockEstimate> {
        self.estimator.estimate()
    }

    fn step(&mut self, residual_ns: i64) -> ClockEvent {
        self.epoch += 1;
        self.locked = false;
        self.estimator.reset();
        self.epoch_first_device_ns = None;
        ClockEvent::Stepped {
            epoch: self.epoch,
            residual_ns,
        }
    }

    fn promote(&mut self) -> Option<ClockEvent> {
        let e = self.estimator.estimate()?;
        let span = self
            .epoch_first_device_ns
            .map_or(0, |first| self.last_device_ns.saturating_sub(first));
        if !self.locked
            && e.samples >= self.policy.lock_min_samples
            && span >= self.policy.lock_min_span_ns
            && e.uncertainty_ns <= self.policy.lock_max_uncertainty_ns
        {
            self.locked = true;
            return Some(ClockEvent::Locked { epoch: self.epoch });
        }
        None
    }

    /// Takes one latch pair. Returns a step or lock decision when one is made.
    pub fn observe_latch(&mut self, s: &LatchSample) -> Option<ClockEvent> {
        if !self.estimator.uses_latches() {
            return None;
        }
        let mut event = None;
        // a step is a jump away from a locked clock; before the lock the estimator converges.
        // The latch instant lies inside [host_before, host_after], so only a prediction outside
        // that bracket by more than the threshold is evidence: a wide (delayed) bracket that
        // still contains the prediction is not, however far its midpoint.
        if let Some(e) = self.estimator.estimate().filter(|_| self.locked) {
            let predicted = e.host_ns_at(s.device_ns);
            let residual = if predicted < s.host_before_ns {
                s.host_before_ns.saturating_sub(predicted)
            } else if predicted > s.host_after_ns {
                s.host_after_ns.saturating_sub(predicted)
            } else {
                0
            };
            if residual.abs() > self.policy.step_threshold_ns {
                self.suspect_latches.push(*s);
                if self.suspect_latches.len() < self.policy.step_confirm as usize {
                    return None; // withheld: an outlier unless the next one agrees
                }
                event = Some(self.step(residual));
                for held in std::mem::take(&mut self.suspect_latches) {
                    self.feed_latch(&held);
                }
                return self.promote().or(event);
            }
        }
        self.suspect_latches.clear();
        self.feed_latch(s);
        self.promote().or(event)
    }

    fn feed_latch(&mut self, s: &LatchSample) {
        self.epoch_first_device_ns.get_or_insert(s.device_ns);
        self.last_device_ns = s.device_ns;
        self.estimator.observe_latch(s);
    }

    fn feed_arrival(&mut self, s: &ArrivalSample) {
        self.epoch_first_device_ns.get_or_insert(s.device_ns);
        self.last_device_ns = s.device_ns;
        self.estimator.observe_arrival(s);
    }

    /// Takes one frame arrival. For arrival-based estimators a mapping outside
    /// `[arrival − max_frame_latency, arrival]` is a step suspect.
    pub fn observe_arrival(&mut self, s: &ArrivalSample) -> Option<ClockEvent> {
        if !self.estimator.uses_arrivals() {
            return None;
        }
        if let Some(e) = self.estimator.estimate().filter(|_| self.locked) {
            let latency = s.host_arrival_ns.saturating_sub(e.host_ns_at(s.device_ns));
            if latency < -self.policy.step_threshold_ns
                || latency > self.policy.max_frame_latency_ns
            {
                self.suspect_arrivals.push(*s);
                if self.suspect_arrivals.len() < self.policy.step_confirm as usize {
                    return None;
                }
                let event = self.step(latency);
                for held in std::mem::take(&mut self.suspect_arrivals) {
                    self.feed_arrival(&held);
                }
                return self.promote().or(Some(event));
            }
        }
        self.suspect_arrivals.clear();
        self.feed_arrival(s);
        self.promote()
    }

    /// Maps a device time with the current estimate (causal: only data seen so far).
    pub fn map(&self, device_ns: i64) -> Option<ClockMapping> {
        let e = self.estimator.estimate()?;
        Some(ClockMapping {
            host_ns: e.host_ns_at(device_ns),
            uncertainty_ns: e.uncertainty_ns,
            locked: self.locked,
            epoch: self.epoch,
        })
    }

    /// Maps a frame's device time and checks it against the frame's arrival: a frame cannot
    /// be exposed after it arrived, nor long before. An implausible mapping is never locked.
    pub fn map_frame(&self, device_ns: i64, host_arrival_ns: i64) -> Option<ClockMapping> {
        let mut m = self.map(device_ns)?;
        let latency = host_arrival_ns.saturating_sub(m.host_ns);
        let slack = (m.uncertainty_ns.max(0.0) as i64).saturating_add(1_000_000);
        if latency < -slack || latency > self.policy.max_frame_latency_ns {
            m.locked = false;
        }
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::by_name;

    fn latch(t: i64, offset: i64, k: u32) -> LatchSample {
        LatchSample {
            host_before_ns: t,
            device_ns: t + 40_000 + offset,
            host_after_ns: t + 100_000,
            host_after_read_ns: t + 300_000,
            burst_index: k,
        }
    }

    fn run(sync: &mut ClockSync, from_s: i64, to_s: i64, offset: i64) -> Vec<ClockEvent> {
        let mut events = Vec::new();
        for i in (from_s * 2)..(to_s * 2) {
            for k in 0..4u32 {
                let t = i * 500_000_000 + i64::from(k) * 1_000_000;
                events.extend(sync.observe_latch(&latch(t, offset, k)));
            }
        }
        events
    }

    #[test]
    fn a_device_step_opens_a_new_epoch_and_relocks_within_three_seconds() {
        for name in ["bracket", "kalman"] {
            let mut sync = ClockSync::new(by_name(name).expect("estimator"), SyncPolicy::default());
            let ev = run(&mut sync, 0, 10, 5_000_000_000);
            assert_eq!(ev, vec![ClockEvent::Locked { epoch: 0 }], "{name}");
            // camera reset: device time restarts near zero
            let ev = run(&mut sync, 10, 13, -10_000_000_000);
            assert!(
                matches!(ev[0], ClockEvent::Stepped { epoch: 1, .. }),
                "{name}: {ev:?}"
            );
            assert_eq!(ev[1], ClockEvent::Locked { epoch: 1 }, "{name}: {ev:?}");
            // the latch fired 40 µs into a 100 µs bracket: truth is 20 s + 40 µs, and the
            // midpoint's bias is half the 20 µs asymmetry
            let m = sync
                .map(20 * 1_000_000_000 + 40_000 - 10_000_000_000)
                .expect("mapped");
            assert!(
                (m.host_ns - 20_000_040_000).abs() <= 10_500,
                "{name}: {m:?}"
            );
            assert_eq!(m.epoch, 1);
        }
    }

    #[test]
    fn one_outlier_is_dropped_not_a_step() {
        let mut sync = ClockSync::new(by_name("bracket").expect("bracket"), SyncPolicy::default());
        run(&mut sync, 0, 5, 0);
        let mut wild = latch(5_000_000_000, 0, 0);
        wild.device_ns += 50_000_000;
        assert_eq!(sync.observe_latch(&wild), None);
        assert!(run(&mut sync, 5, 8, 0).is_empty());
        assert_eq!(sync.epoch(), 0);
        assert!(sync.locked());
    }

    #[test]
    fn delayed_latches_whose_brackets_contain_the_prediction_are_no_step() {
        // a burst of latches all held up by ~6 ms on the return leg: midpoints ~3 ms late,
        // but each bracket still contains the true latch instant
        let mut sync = ClockSync::new(by_name("bracket").expect("bracket"), SyncPolicy::default());
        run(&mut sync, 0, 5, 0);
        for k in 0..4u32 {
            let mut slow = latch(5_000_000_000 + i64::from(k) * 7_000_000, 0, k);
            slow.host_after_ns += 6_000_000;
            slow.host_after_read_ns += 6_000_000;
            assert_eq!(sync.observe_latch(&slow), None, "latch {k}");
        }
        assert_eq!(sync.epoch(), 0);
        assert!(sync.locked());
    }

    #[test]
    fn frames_that_cannot_be_true_are_not_locked() {
        let mut sync = ClockSync::new(by_name("bracket").expect("bracket"), SyncPolicy::default());
        run(&mut sync, 0, 5, 0);
        let ok = sync
            .map_frame(4_000_000_000, 4_010_000_000)
            .expect("mapped");
        assert!(ok.locked);
        // after an unseen reset the frame maps 10 s before it arrived
        let bad = sync
            .map_frame(-6_000_000_000, 4_010_000_000)
            .expect("mapped");
        assert!(!bad.locked);
    }
}
