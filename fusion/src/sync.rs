//! Sync state: LOCKED / DEGRADED / HOLDOVER / FREERUN / RESYNCING from measured signals, with
//! thresholds and hysteresis, and an audit event at every transition.
//!
//! Output policy (applied by the replay runner): LOCKED, normal fused output; DEGRADED, output
//! continues with widened gates and reduced confidence; HOLDOVER, FREERUN and RESYNCING,
//! no fused output (camera-only, flagged).

use crate::audit::{AuditKind, AuditLog};
use crate::stats::Summary;
use std::collections::VecDeque;

/// The sync state of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SyncState {
    /// Clock locked, every signal within its threshold.
    Locked,
    /// Locked, but a signal is over its threshold.
    Degraded,
    /// Was locked; no fresh clock data for a while.
    Holdover,
    /// Never locked, or holdover ran out.
    Freerun,
    /// Re-acquiring after a device clock step.
    Resyncing,
}

impl SyncState {
    /// Contract name (`LOCKED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "LOCKED",
            Self::Degraded => "DEGRADED",
            Self::Holdover => "HOLDOVER",
            Self::Freerun => "FREERUN",
            Self::Resyncing => "RESYNCING",
        }
    }

    /// Whether fused output may be produced in this state.
    pub fn fuses(self) -> bool {
        matches!(self, Self::Locked | Self::Degraded)
    }
}

/// Thresholds and hysteresis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncThresholds {
    /// Clock uncertainty above this degrades, ns.
    pub degrade_uncertainty_ns: f64,
    /// |PTP offset| P99 over the window above this degrades, ns.
    pub degrade_ptp_offset_ns: f64,
    /// A PTP offset this far from the window median is a PTP step, ns.
    pub ptp_step_ns: f64,
    /// Locked clock without a fresh sample for this long goes to HOLDOVER, ns.
    pub holdover_after_ns: i64,
    /// ... and for this long to FREERUN, ns.
    pub freerun_after_ns: i64,
    /// Consecutive good evaluations needed to leave DEGRADED.
    pub recover_evaluations: u32,
    /// PTP samples in the window.
    pub ptp_window: usize,
}

impl Default for SyncThresholds {
    fn default() -> Self {
        Self {
            degrade_uncertainty_ns: 100_000.0,
            degrade_ptp_offset_ns: 100_000.0,
            ptp_step_ns: 1_000_000.0,
            holdover_after_ns: 2_000_000_000,
            freerun_after_ns: 60_000_000_000,
            recover_evaluations: 30,
            ptp_window: 60,
        }
    }
}

/// The clock's status at one evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockStatus {
    /// Whether the clock policy has it locked.
    pub locked: bool,
    /// Current sync epoch.
    pub epoch: u64,
    /// Estimate uncertainty, ns.
    pub uncertainty_ns: f64,
    /// Host time of the last clock sample (latch or arrival), ns.
    pub last_sample_ns: Option<i64>,
}

/// PTP offset and jitter windows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PtpWindow {
    offsets: VecDeque<f64>,
    jitters: VecDeque<f64>,
    /// Summary of `offsets`' magnitudes, kept from one status to the next: it is read at
    /// every camera frame and changes only with a status.
    offset_abs: Option<Summary>,
    /// Whether the last status reported a grandmaster.
    pub gm_present: Option<bool>,
}

impl PtpWindow {
    /// Adds one status; returns the step size (ns) when the offset jumped by more than
    /// `step_ns` from the window median.
    pub fn observe(
        &mut self,
        offset_ns: f64,
        gm_present: bool,
        window: usize,
        step_ns: f64,
    ) -> Option<f64> {
        let median = Summary::of(&self.offsets.iter().copied().collect::<Vec<_>>()).map(|s| s.p50);
        if let Some(&last) = self.offsets.back() {
            self.jitters.push_back((offset_ns - last).abs());
        }
        self.offsets.push_back(offset_ns);
        self.gm_present = Some(gm_present);
        for q in [&mut self.offsets, &mut self.jitters] {
            while q.len() > window.max(1) {
                q.pop_front();
            }
        }
        self.offset_abs = Summary::of(&self.offsets.iter().map(|o| o.abs()).collect::<Vec<_>>());
        median.map(|m| offset_ns - m).filter(|d| d.abs() > step_ns)
    }

    /// Summary of |offset| over the window, ns.
    pub fn offset_abs(&self) -> Option<Summary> {
        self.offset_abs
    }

    /// Summary of |Δoffset| between polls over the window, ns.
    pub fn jitter(&self) -> Option<Summary> {
        Summary::of(&self.jitters.iter().copied().collect::<Vec<_>>())
    }

    /// The latest offset, ns.
    pub fn last_offset_ns(&self) -> Option<f64> {
        self.offsets.back().copied()
    }
}

/// The sync state machine.
#[derive(Debug, Clone)]
pub struct SyncMonitor {
    /// Thresholds.
    pub thresholds: SyncThresholds,
    state: SyncState,
    ever_locked: bool,
    good_streak: u32,
    epoch: u64,
    /// PTP windows.
    pub ptp: PtpWindow,
}

impl SyncMonitor {
    /// Starts in FREERUN.
    pub fn new(thresholds: SyncThresholds) -> Self {
        Self {
            thresholds,
            state: SyncState::Freerun,
            ever_locked: false,
            good_streak: 0,
            epoch: 0,
            ptp: PtpWindow::default(),
        }
    }

    /// Current state.
    pub fn state(&self) -> SyncState {
        self.state
    }

    /// Takes a PTP status; a step is logged as a threshold crossing.
    pub fn observe_ptp(
        &mut self,
        t_ns: i64,
        offset_ns: f64,
        gm_present: bool,
        audit: &mut AuditLog,
    ) {
        let th = self.thresholds;
        if let Some(step) = self
            .ptp
            .observe(offset_ns, gm_present, th.ptp_window, th.ptp_step_ns)
        {
            audit.push(
                t_ns,
                AuditKind::SyncThresholdExceeded,
                self.state.as_str(),
                self.state.as_str(),
                format!(
                    "ptp offset step of {step:.0} ns (threshold {:.0} ns)",
                    th.ptp_step_ns
                ),
            );
        }
    }

    /// Evaluates the state at host time `t_ns`; logs transitions and threshold crossings.
    pub fn evaluate(&mut self, t_ns: i64, clock: &ClockStatus, audit: &mut AuditLog) -> SyncState {
        let th = self.thresholds;
        let stepped = clock.epoch > self.epoch;
        self.epoch = clock.epoch;
        let gap = clock
            .last_sample_ns
            .map_or(i64::MAX, |l| t_ns.saturating_sub(l));
        let mut reason = String::new();
        let next = if !clock.locked {
            if self.ever_locked || clock.epoch > 0 {
                reason = if stepped {
                    format!("device clock step: sync epoch {}", clock.epoch)
                } else {
                    "clock not locked".into()
                };
                SyncState::Resyncing
            } else {
                SyncState::Freerun
            }
        } else if gap > th.freerun_after_ns {
            reason = format!("no clock sample for {:.1} s", gap as f64 * 1e-9);
            SyncState::Freerun
        } else if gap > th.holdover_after_ns {
            reason = format!("no clock sample for {:.1} s", gap as f64 * 1e-9);
            SyncState::Holdover
        } else {
            let mut over = Vec::new();
            if clock.uncertainty_ns > th.degrade_uncertainty_ns {
                over.push(format!(
                    "clock uncertainty {:.0} ns > {:.0} ns",
                    clock.uncertainty_ns, th.degrade_uncertainty_ns
                ));
            }
            if let Some(s) = self
                .ptp
                .offset_abs()
                .filter(|s| s.p99 > th.degrade_ptp_offset_ns)
            {
                over.push(format!(
                    "ptp |offset| P99 {:.0} ns > {:.0} ns",
                    s.p99, th.degrade_ptp_offset_ns
                ));
            }
            if self.ptp.gm_present == Some(false) {
                over.push("ptp grandmaster absent".into());
            }
            if !over.is_empty() {
                if self.state != SyncState::Degraded {
                    audit.push(
                        t_ns,
                        AuditKind::SyncThresholdExceeded,
                        self.state.as_str(),
                        SyncState::Degraded.as_str(),
                        over.join("; "),
                    );
                }
                self.good_streak = 0;
                reason = over.join("; ");
                SyncState::Degraded
            } else if self.state == SyncState::Degraded {
                self.good_streak += 1;
                if self.good_streak >= th.recover_evaluations {
                    reason = format!("{} good evaluations", self.good_streak);
                    SyncState::Locked
                } else {
                    SyncState::Degraded
                }
            } else {
                reason = "clock locked".into();
                SyncState::Locked
            }
        };
        if next == SyncState::Locked {
            self.ever_locked = true;
        }
        if next != self.state {
            audit.push(
                t_ns,
                AuditKind::SyncStateChanged,
                self.state.as_str(),
                next.as_str(),
                reason,
            );
            self.state = next;
        }
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(locked: bool, epoch: u64, uncertainty_ns: f64, last: i64) -> ClockStatus {
        ClockStatus {
            locked,
            epoch,
            uncertainty_ns,
            last_sample_ns: Some(last),
        }
    }

    #[test]
    fn walks_through_every_state_with_audit_events() {
        let mut m = SyncMonitor::new(SyncThresholds::default());
        let mut log = AuditLog::new(1, 1);
        let s = 1_000_000_000;
        assert_eq!(
            m.evaluate(0, &status(false, 0, 0.0, 0), &mut log),
            SyncState::Freerun
        );
        assert_eq!(
            m.evaluate(s, &status(true, 0, 10_000.0, s), &mut log),
            SyncState::Locked
        );
        assert_eq!(
            m.evaluate(2 * s, &status(true, 0, 500_000.0, 2 * s), &mut log),
            SyncState::Degraded
        );
        // hysteresis: one good evaluation is not enough
        assert_eq!(
            m.evaluate(3 * s, &status(true, 0, 10_000.0, 3 * s), &mut log),
            SyncState::Degraded
        );
        for k in 0..30 {
            m.evaluate(4 * s + k, &status(true, 0, 10_000.0, 4 * s), &mut log);
        }
        assert_eq!(m.state(), SyncState::Locked);
        assert_eq!(
            m.evaluate(8 * s, &status(true, 0, 10_000.0, 5 * s), &mut log),
            SyncState::Holdover
        );
        assert_eq!(
            m.evaluate(9 * s, &status(false, 1, 0.0, 9 * s), &mut log),
            SyncState::Resyncing
        );
        assert_eq!(
            m.evaluate(12 * s, &status(true, 1, 10_000.0, 12 * s), &mut log),
            SyncState::Locked
        );
        let changes: Vec<(String, String)> = log
            .events()
            .iter()
            .filter(|e| e.kind == AuditKind::SyncStateChanged)
            .map(|e| (e.old_state.clone(), e.new_state.clone()))
            .collect();
        let pairs: Vec<(&str, &str)> = changes
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("FREERUN", "LOCKED"),
                ("LOCKED", "DEGRADED"),
                ("DEGRADED", "LOCKED"),
                ("LOCKED", "HOLDOVER"),
                ("HOLDOVER", "RESYNCING"),
                ("RESYNCING", "LOCKED"),
            ]
        );
        assert!(
            log.events()
                .iter()
                .any(|e| e.kind == AuditKind::SyncThresholdExceeded)
        );
        let ids: Vec<u64> = log.events().iter().map(|e| e.event_id).collect();
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
    }

    #[test]
    fn ptp_windows_and_steps() {
        let mut w = PtpWindow::default();
        for i in 0..60 {
            assert_eq!(w.observe(f64::from(i % 5) * 10.0, true, 60, 1e6), None);
        }
        assert!(w.observe(5e6, true, 60, 1e6).is_some());
        let s = w.offset_abs().expect("window");
        assert_eq!(s.samples, 60);
        assert!(w.jitter().expect("jitter").max >= 5e6 - 40.0);
    }
}

/// One camera frame's time mapping, as written to `sync.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRecord {
    /// Camera frame id.
    pub frame_id: u64,
    /// Device timestamp, ns.
    pub device_ns: i64,
    /// Mapped host time, ns.
    pub host_ns: i64,
    /// One-sigma uncertainty of `host_ns`, ns.
    pub uncertainty_ns: f64,
    /// Sync epoch of the mapping.
    pub sync_epoch_id: u64,
    /// Mapped minus true host time, ns, where the recording has truth.
    pub true_error_ns: Option<i64>,
    /// Provenance (carries the sync state).
    pub provenance: crate::provenance::Provenance,
}
