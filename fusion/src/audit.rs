//! The append-only audit log: every state change, threshold crossing, calibration or
//! configuration update and timebase switch, with a monotonic `event_id`.

/// Kinds of audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuditKind {
    /// A sync signal crossed its threshold.
    SyncThresholdExceeded,
    /// The sync state changed.
    SyncStateChanged,
    /// A calibration record was activated.
    CalUpdated,
    /// A configuration was activated.
    ConfigUpdated,
    /// A link went down and came back.
    LinkDownUp,
    /// The time base changed (e.g. latch sync to passive sync).
    TimebaseSwitched,
    /// Part of the recording was unreadable and skipped (`replay --salvage`).
    RecordingGap,
}

impl AuditKind {
    /// The contract name (`SYNC_STATE_CHANGED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SyncThresholdExceeded => "SYNC_THRESHOLD_EXCEEDED",
            Self::SyncStateChanged => "SYNC_STATE_CHANGED",
            Self::CalUpdated => "CAL_UPDATED",
            Self::ConfigUpdated => "CONFIG_UPDATED",
            Self::LinkDownUp => "LINK_DOWN_UP",
            Self::TimebaseSwitched => "TIMEBASE_SWITCHED",
            Self::RecordingGap => "RECORDING_GAP",
        }
    }
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Monotonic id, from 1.
    pub event_id: u64,
    /// Host time of the event, ns.
    pub event_ts_ns: i64,
    /// Kind.
    pub kind: AuditKind,
    /// State before.
    pub old_state: String,
    /// State after.
    pub new_state: String,
    /// Calibration version in force.
    pub cal_version: u64,
    /// Configuration version in force.
    pub config_version: u64,
    /// Why.
    pub detail: String,
}

/// The append-only log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditLog {
    events: Vec<AuditEvent>,
    /// Calibration version stamped on new events.
    pub cal_version: u64,
    /// Configuration version stamped on new events.
    pub config_version: u64,
}

impl AuditLog {
    /// A log stamping events with these versions.
    pub fn new(cal_version: u64, config_version: u64) -> Self {
        Self {
            events: Vec::new(),
            cal_version,
            config_version,
        }
    }

    /// Appends an event; returns its id.
    pub fn push(
        &mut self,
        event_ts_ns: i64,
        kind: AuditKind,
        old_state: &str,
        new_state: &str,
        detail: String,
    ) -> u64 {
        let event_id = self.events.len() as u64 + 1;
        self.events.push(AuditEvent {
            event_id,
            event_ts_ns,
            kind,
            old_state: old_state.to_owned(),
            new_state: new_state.to_owned(),
            cal_version: self.cal_version,
            config_version: self.config_version,
            detail,
        });
        event_id
    }

    /// Every event, in order.
    pub fn events(&self) -> &[AuditEvent] {
        &self.events
    }
}
