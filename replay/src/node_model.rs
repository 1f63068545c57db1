//! The node timing and egress model: where a camera frame's time goes after its detections
//! and radar data are at hand — a fusion stage behind a bounded queue, then an egress port
//! shared with PTP, control and video traffic.
//!
//! Replay cannot measure the node's compute (it runs elsewhere, and replay reads no clock), so
//! processing times are modelled from the work done — set them from a profile of your node:
//! fusion takes `fusion_base_us + fusion_per_detection_us × detections + fusion_per_object_us ×
//! radar objects`; a radar frame takes `radar_base_us + radar_per_point_us × points`.
//!
//! Fusion is one server: a frame starts when it is ready and the previous frame is done
//! (`t_fuse_start`), ends after its processing time (`t_fuse_end`), and its output (the fused
//! object list, `metadata` class) is sent on the egress port (`t_tx`). A frame that finds
//! `queue_depth` frames already waiting is dropped.
//!
//! The egress port serves whole messages (no packetisation, no preemption) at `link_mbps`, by
//! strict priority PTP > control > metadata > video, or in arrival order (`fifo`). PTP and
//! control messages arrive periodically, video at the camera frame rate per stream; each class
//! queues at most `queue_bytes` and drops what does not fit.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The fusion stage's timing (TOML `[node]` of a fault plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Fusion time per frame, µs.
    pub fusion_base_us: f64,
    /// Fusion time per detection, µs.
    pub fusion_per_detection_us: f64,
    /// Fusion time per radar object, µs.
    pub fusion_per_object_us: f64,
    /// Radar processing time per frame, µs.
    pub radar_base_us: f64,
    /// Radar processing time per point, µs.
    pub radar_per_point_us: f64,
    /// Frames that may wait for the fusion stage; a frame finding it full is dropped.
    pub queue_depth: u32,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            fusion_base_us: 1_500.0,
            fusion_per_detection_us: 40.0,
            fusion_per_object_us: 20.0,
            radar_base_us: 800.0,
            radar_per_point_us: 4.0,
            queue_depth: 4,
        }
    }
}

/// Egress scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheduler {
    /// PTP > control > metadata > video.
    StrictPriority,
    /// Arrival order.
    Fifo,
}

/// The egress port (TOML `[egress]` of a fault plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressConfig {
    /// Scheduling discipline.
    pub scheduler: Scheduler,
    /// Link rate, Mbit/s.
    pub link_mbps: f64,
    /// Video streams sent alongside the fused output.
    pub video_streams: u32,
    /// Bit rate of each video stream, Mbit/s (one message per camera frame).
    pub video_mbps_per_stream: f64,
    /// Camera frame rate of the video streams, Hz.
    pub video_fps: f64,
    /// PTP messages per second (sync + follow-up + delay request).
    pub ptp_rate_hz: f64,
    /// Control messages per second.
    pub control_rate_hz: f64,
    /// Queue capacity per class, bytes.
    pub queue_bytes: u64,
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            scheduler: Scheduler::StrictPriority,
            link_mbps: 1_000.0,
            video_streams: 1,
            video_mbps_per_stream: 8.0,
            video_fps: 30.0,
            ptp_rate_hz: 8.0,
            control_rate_hz: 10.0,
            queue_bytes: 1 << 20,
        }
    }
}

impl NodeConfig {
    /// Checks every number; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, v) in [
            ("fusion_base_us", self.fusion_base_us),
            ("fusion_per_detection_us", self.fusion_per_detection_us),
            ("fusion_per_object_us", self.fusion_per_object_us),
            ("radar_base_us", self.radar_base_us),
            ("radar_per_point_us", self.radar_per_point_us),
        ] {
            if !(v.is_finite() && (0.0..=1e7).contains(&v)) {
                return Err(format!(
                    "node.{field} = {}: must be within [0, 1e7] µs",
                    radcam_fusion::shown::Shown(v)
                ));
            }
        }
        if self.queue_depth == 0 {
            return Err("node.queue_depth = 0: must be ≥ 1".into());
        }
        Ok(())
    }
}

impl EgressConfig {
    /// Checks every number; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, v, lo) in [
            ("link_mbps", self.link_mbps, 0.001),
            ("video_mbps_per_stream", self.video_mbps_per_stream, 0.0),
            ("video_fps", self.video_fps, 0.001),
            ("ptp_rate_hz", self.ptp_rate_hz, 0.0),
            ("control_rate_hz", self.control_rate_hz, 0.0),
        ] {
            if !(v.is_finite() && v >= lo && v <= 1e6) {
                return Err(format!(
                    "egress.{field} = {}: must be within [{lo}, 1e6]",
                    radcam_fusion::shown::Shown(v)
                ));
            }
        }
        if self.video_streams > 64 {
            return Err(format!(
                "egress.video_streams = {}: at most 64",
                self.video_streams
            ));
        }
        if self.queue_bytes < 1500 {
            return Err(format!(
                "egress.queue_bytes = {}: at least one 1500-byte message",
                self.queue_bytes
            ));
        }
        Ok(())
    }
}

/// Traffic classes, highest priority first.
pub const CLASSES: [&str; 4] = ["ptp", "control", "metadata", "video"];
const PTP: usize = 0;
const CONTROL: usize = 1;
/// The fused output's class.
const METADATA: usize = 2;
const VIDEO: usize = 3;

const PTP_BYTES: u64 = 90;
const CONTROL_BYTES: u64 = 200;

/// A frame's passage through the fusion stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FusionTiming {
    /// When fusion started, ns.
    pub start_ns: i64,
    /// When it ended, ns.
    pub end_ns: i64,
    /// Frames waiting ahead of it when it became ready.
    pub queue_depth: u32,
}

/// The fusion stage: one server behind a bounded queue.
#[derive(Debug, Clone)]
pub struct FusionStage {
    cfg: NodeConfig,
    /// Start times of frames admitted, newest last (those after a ready time are waiting).
    starts: VecDeque<i64>,
    busy_until_ns: i64,
}

impl FusionStage {
    /// An idle stage.
    pub fn new(cfg: &NodeConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            starts: VecDeque::new(),
            busy_until_ns: i64::MIN,
        }
    }

    /// Modelled radar processing time of a frame of `points` points, ns.
    pub fn radar_processing_ns(&self, points: usize) -> i64 {
        ((self.cfg.radar_base_us + self.cfg.radar_per_point_us * points as f64) * 1e3).round()
            as i64
    }

    /// A frame ready at `ready_ns` with `detections` and `objects`: its timing, or `None` if
    /// the queue is full and it is dropped. Call in order of readiness.
    pub fn admit(
        &mut self,
        ready_ns: i64,
        detections: usize,
        objects: usize,
    ) -> Option<FusionTiming> {
        while self.starts.front().is_some_and(|s| *s <= ready_ns) {
            self.starts.pop_front();
        }
        let waiting = self.starts.len() as u32;
        if waiting >= self.cfg.queue_depth {
            return None;
        }
        let cost_ns = ((self.cfg.fusion_base_us
            + self.cfg.fusion_per_detection_us * detections as f64
            + self.cfg.fusion_per_object_us * objects as f64)
            * 1e3)
            .round() as i64;
        let start_ns = ready_ns.max(self.busy_until_ns);
        let end_ns = start_ns + cost_ns;
        self.busy_until_ns = end_ns;
        if start_ns > ready_ns {
            self.starts.push_back(start_ns);
        }
        Some(FusionTiming {
            start_ns,
            end_ns,
            queue_depth: waiting,
        })
    }
}

/// One message waiting at the egress port.
#[derive(Debug, Clone, Copy)]
struct Queued {
    arrival_ns: i64,
    bytes: u64,
    seq: u64,
}

/// What the egress port did with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Sent: (class, queue latency ns, departure ns).
    Departed(usize, i64, i64),
    /// Dropped (its class's queue was full): class, arrival ns.
    Dropped(usize, i64),
}

/// The egress port: a discrete-event simulation driven forward as fused outputs arrive.
#[derive(Debug, Clone)]
pub struct Egress {
    cfg: EgressConfig,
    queues: [VecDeque<Queued>; 4],
    queued_bytes: [u64; 4],
    /// When the link is next free, ns.
    free_ns: i64,
    /// Next arrival of each periodic class (ptp, control, video), ns.
    next_periodic: [i64; 3],
    seq: u64,
    /// Everything that happened, in order, for the caller to collect.
    pub log: Vec<Sent>,
}

impl Egress {
    /// An idle port whose periodic traffic starts at `start_ns`.
    pub fn new(cfg: &EgressConfig, start_ns: i64) -> Self {
        Self {
            cfg: cfg.clone(),
            queues: Default::default(),
            queued_bytes: [0; 4],
            free_ns: start_ns,
            next_periodic: [start_ns; 3],
            seq: 0,
            log: Vec::new(),
        }
    }

    fn period_ns(rate_hz: f64) -> Option<i64> {
        (rate_hz > 0.0).then(|| (1e9 / rate_hz).round().max(1.0) as i64)
    }

    fn video_bytes(&self) -> u64 {
        (self.cfg.video_mbps_per_stream * 1e6 / 8.0 / self.cfg.video_fps).round() as u64
    }

    fn service_ns(&self, bytes: u64) -> i64 {
        (bytes as f64 * 8.0 / (self.cfg.link_mbps * 1e6) * 1e9)
            .round()
            .max(1.0) as i64
    }

    fn enqueue(&mut self, class: usize, arrival_ns: i64, bytes: u64) -> u64 {
        self.seq += 1;
        if self.queued_bytes[class] + bytes > self.cfg.queue_bytes {
            self.log.push(Sent::Dropped(class, arrival_ns));
            return self.seq;
        }
        self.queued_bytes[class] += bytes;
        self.queues[class].push_back(Queued {
            arrival_ns,
            bytes,
            seq: self.seq,
        });
        self.seq
    }

    /// The earliest periodic arrival: (time, which).
    fn next_arrival(&self) -> Option<(i64, usize)> {
        let rates = [
            self.cfg.ptp_rate_hz,
            self.cfg.control_rate_hz,
            if self.cfg.video_streams > 0 && self.cfg.video_mbps_per_stream > 0.0 {
                self.cfg.video_fps
            } else {
                0.0
            },
        ];
        (0..3)
            .filter(|i| rates[*i] > 0.0)
            .map(|i| (self.next_periodic[i], i))
            .min()
    }

    fn arrive_periodic(&mut self, which: usize) {
        let t = self.next_periodic[which];
        let (rate, class) = match which {
            0 => (self.cfg.ptp_rate_hz, PTP),
            1 => (self.cfg.control_rate_hz, CONTROL),
            _ => (self.cfg.video_fps, VIDEO),
        };
        if class == VIDEO {
            for _ in 0..self.cfg.video_streams {
                let bytes = self.video_bytes();
                self.enqueue(VIDEO, t, bytes);
            }
        } else {
            let bytes = if class == PTP {
                PTP_BYTES
            } else {
                CONTROL_BYTES
            };
            self.enqueue(class, t, bytes);
        }
        self.next_periodic[which] = t + Self::period_ns(rate).unwrap_or(i64::MAX / 4);
    }

    /// The class to serve next when the link frees, if any is waiting.
    fn pick(&self) -> Option<usize> {
        match self.cfg.scheduler {
            Scheduler::StrictPriority => (0..4).find(|c| !self.queues[*c].is_empty()),
            Scheduler::Fifo => (0..4)
                .filter_map(|c| self.queues[c].front().map(|q| (q.seq, c)))
                .min()
                .map(|x| x.1),
        }
    }

    /// Runs the port until `until_ns`: every arrival before it is queued and every message
    /// that can start before it is sent. Stops early once message `stop_seq` has departed and
    /// returns its departure.
    fn run(&mut self, until_ns: i64, stop_seq: Option<u64>) -> Option<i64> {
        loop {
            let arrival = self.next_arrival().filter(|a| a.0 <= until_ns);
            // an idle link serves the head message when it arrived
            let serve_at = self.pick().and_then(|c| {
                self.queues[c]
                    .front()
                    .map(|q| self.free_ns.max(q.arrival_ns))
            });
            match (arrival, serve_at) {
                // arrivals at or before the moment the link frees are queued first
                (Some((t, which)), Some(s)) if t <= s => self.arrive_periodic(which),
                (Some((_, which)), None) => self.arrive_periodic(which),
                (_, Some(s)) if s <= until_ns || stop_seq.is_some() => {
                    let Some(class) = self.pick() else { continue };
                    let Some(q) = self.queues[class].pop_front() else {
                        continue;
                    };
                    self.queued_bytes[class] -= q.bytes;
                    let start = s.max(q.arrival_ns);
                    let end = start + self.service_ns(q.bytes);
                    self.free_ns = end;
                    self.log
                        .push(Sent::Departed(class, start - q.arrival_ns, end));
                    if stop_seq == Some(q.seq) {
                        return Some(end);
                    }
                }
                _ => return None,
            }
        }
    }

    /// Sends a fused output of `bytes` made at `t_ns`; returns when it left the port (`None`
    /// if its queue was full and it was dropped).
    pub fn send_output(&mut self, t_ns: i64, bytes: u64) -> Option<i64> {
        // the link may have been idle: it is free no earlier than now
        self.run(t_ns, None);
        let dropped_before = self.log.len();
        let seq = self.enqueue(METADATA, t_ns, bytes);
        if matches!(self.log.get(dropped_before), Some(Sent::Dropped(..))) {
            return None;
        }
        self.run(i64::MAX, Some(seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_fusion_stage_queues_then_drops() {
        let cfg = NodeConfig {
            fusion_base_us: 10_000.0,
            fusion_per_detection_us: 0.0,
            fusion_per_object_us: 0.0,
            queue_depth: 2,
            ..NodeConfig::default()
        };
        let mut f = FusionStage::new(&cfg);
        let a = f.admit(0, 5, 5).expect("a");
        assert_eq!((a.start_ns, a.end_ns, a.queue_depth), (0, 10_000_000, 0));
        let b = f.admit(1_000_000, 5, 5).expect("b");
        assert_eq!((b.start_ns, b.queue_depth), (10_000_000, 0));
        let c = f.admit(2_000_000, 5, 5).expect("c");
        assert_eq!((c.start_ns, c.queue_depth), (20_000_000, 1));
        assert!(f.admit(3_000_000, 5, 5).is_none(), "two waiting: dropped");
        // once the stage caught up, nothing waits
        let d = f.admit(40_000_000, 5, 5).expect("d");
        assert_eq!((d.start_ns, d.queue_depth), (40_000_000, 0));
    }

    fn latencies(cfg: &EgressConfig) -> Vec<i64> {
        let mut e = Egress::new(cfg, 0);
        (1..200)
            .map(|k| {
                let t = k * 33_333_333 + 5_000_000;
                e.send_output(t, 2_000).expect("sent") - t
            })
            .collect()
    }

    #[test]
    fn strict_priority_protects_fused_output_from_video_and_fifo_does_not() {
        let crowded = EgressConfig {
            link_mbps: 100.0,
            video_streams: 3,
            video_mbps_per_stream: 25.0,
            ..EgressConfig::default()
        };
        let prio = latencies(&crowded);
        let fifo = latencies(&EgressConfig {
            scheduler: Scheduler::Fifo,
            ..crowded.clone()
        });
        let max = |v: &[i64]| v.iter().copied().max().unwrap_or(0);
        // 2000 B at 100 Mbit/s = 160 µs; at most one video frame (~104 kB, 8.3 ms) in service
        assert!(max(&prio) < 9_000_000, "{}", max(&prio));
        assert!(prio.iter().all(|l| *l >= 160_000));
        // under FIFO the output waits behind three video frames arriving with it
        assert!(max(&fifo) > 20_000_000, "{}", max(&fifo));
    }

    #[test]
    fn an_overloaded_link_drops_video_first() {
        let cfg = EgressConfig {
            link_mbps: 50.0,
            video_streams: 4,
            video_mbps_per_stream: 20.0,
            queue_bytes: 300_000,
            ..EgressConfig::default()
        };
        let mut e = Egress::new(&cfg, 0);
        for k in 1..300 {
            assert!(e.send_output(k * 33_333_333, 1_000).is_some());
        }
        let mut drops = [0u32; 4];
        for s in &e.log {
            if let Sent::Dropped(c, _) = s {
                drops[*c] += 1;
            }
        }
        assert!(drops[VIDEO] > 100, "{drops:?}");
        assert_eq!(
            drops[PTP] + drops[CONTROL] + drops[METADATA],
            0,
            "{drops:?}"
        );
    }
}
