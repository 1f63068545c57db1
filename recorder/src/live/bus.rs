//! What sources share with the writer: a bounded queue of encoded messages, a stop flag, the
//! host clock and the live counters the progress line and `/node/stats` show.

use radcam_schema::TopicMessage;
use radcam_schema::proto;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// Host `CLOCK_MONOTONIC_RAW`, ns: the time base of every host stamp in a recording.
pub fn host_now_ns() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicRaw);
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// One item for the writer.
#[derive(Debug)]
pub enum Item {
    /// An encoded message on a contract topic.
    Message {
        /// Topic.
        topic: &'static str,
        /// Log time, host ns.
        log_time_ns: i64,
        /// Encoded bytes.
        data: Vec<u8>,
    },
    /// An audit event; the writer numbers it.
    Audit(proto::AuditEvent),
}

/// Counters every source updates and the writer reads.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Camera frames written.
    pub camera_frames: AtomicU64,
    /// Camera frames lost: frame-id gaps plus Aravis failures and underruns.
    pub camera_drops: AtomicU64,
    /// Last latch round trip (host after − host before), ns; −1 before the first.
    pub latch_rtt_ns: AtomicI64,
    /// Last device − host offset, ns (latch midpoint, or frame arrival when passive).
    pub camera_offset_ns: AtomicI64,
    /// Camera link state (false while the camera is gone).
    pub camera_up: AtomicBool,
    /// Radar frames written.
    pub radar_frames: AtomicU64,
    /// Radar data port open.
    pub radar_up: AtomicBool,
    /// Radar frames missing from the `frameNumber` sequence.
    pub radar_gaps: AtomicU64,
    /// Radar frames that started with a magic word but were cut or inconsistent.
    pub radar_bad_frames: AtomicU64,
    /// Radar bytes skipped while resynchronising.
    pub radar_skipped_bytes: AtomicU64,
    /// Last PTP master offset, ns.
    pub ptp_offset_ns: AtomicI64,
    /// Last PTP port state.
    pub ptp_state: Mutex<String>,
    /// Messages waiting for the writer.
    pub queue_depth: AtomicUsize,
    /// Writer queue capacity.
    pub queue_capacity: AtomicUsize,
    /// Messages dropped because the writer queue was full.
    pub queue_drops: AtomicU64,
}

impl LiveStats {
    /// Fresh counters for a queue of `capacity` messages.
    pub fn new(capacity: usize) -> Self {
        let s = Self::default();
        s.latch_rtt_ns.store(-1, Ordering::Relaxed);
        s.queue_capacity.store(capacity, Ordering::Relaxed);
        s
    }
}

/// A source's handle: send messages, read the stop flag.
#[derive(Clone)]
pub struct Bus {
    tx: SyncSender<Item>,
    /// Shared counters.
    pub stats: Arc<LiveStats>,
    stop: Arc<AtomicBool>,
}

impl Bus {
    /// A bus and the writer's end of its queue.
    pub fn new(capacity: usize, stop: Arc<AtomicBool>) -> (Self, Receiver<Item>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        let stats = Arc::new(LiveStats::new(capacity));
        (Self { tx, stats, stop }, rx)
    }

    /// Whether sources should stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps up to `d`, waking early (in 50 ms steps) when stopping; false once stopping.
    pub fn pause(&self, d: std::time::Duration) -> bool {
        let end = std::time::Instant::now() + d;
        loop {
            if self.stopping() {
                return false;
            }
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(50)));
        }
    }

    fn push(&self, item: Item) {
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                self.stats.queue_drops.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Queues a contract message logged at `log_time_ns` (host ns). Never blocks: a full
    /// queue drops it and counts the drop.
    pub fn send<T: TopicMessage>(&self, log_time_ns: i64, msg: &T) {
        self.send_encoded(T::TOPIC, log_time_ns, msg.encode_to_vec());
    }

    /// Queues already encoded bytes on `topic`.
    pub fn send_encoded(&self, topic: &'static str, log_time_ns: i64, data: Vec<u8>) {
        self.push(Item::Message {
            topic,
            log_time_ns,
            data,
        });
    }

    /// Queues an audit event of `kind` now.
    pub fn audit(&self, kind: &str, old_state: &str, new_state: &str, detail: String) {
        self.push(Item::Audit(proto::AuditEvent {
            event_id: 0,
            event_ts_ns: host_now_ns(),
            kind: kind.to_owned(),
            old_state: old_state.to_owned(),
            new_state: new_state.to_owned(),
            cal_version: 0,
            config_version: 1,
            detail,
        }));
    }
}
