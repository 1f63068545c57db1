//! Node health → `/node/stats`: thermal zones, CPU load, the recorder's own queue and drops.

use super::bus::{Bus, LiveStats, host_now_ns};
use super::rig::NodeConfig;
use radcam_schema::proto;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Reads every requested thermal zone under `root` (all zones when `zones` is empty):
/// (zone type or name, °C). Unreadable zones are left out.
pub fn read_thermal(root: &Path, zones: &[String]) -> Vec<(String, f64)> {
    let names: Vec<String> = if zones.is_empty() {
        let mut v: Vec<String> = std::fs::read_dir(root)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("thermal_zone"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    } else {
        zones.to_vec()
    };
    names
        .into_iter()
        .filter_map(|z| {
            let dir = root.join(&z);
            let milli: f64 = std::fs::read_to_string(dir.join("temp"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            let kind = std::fs::read_to_string(dir.join("type"))
                .map(|t| t.trim().to_owned())
                .unwrap_or_default();
            let name = if kind.is_empty() {
                z
            } else {
                format!("{z}:{kind}")
            };
            Some((name, milli / 1000.0))
        })
        .collect()
}

/// (busy, total) jiffies from `/proc/stat`'s first line.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Builds one `/node/stats` sample from the live counters.
pub fn sample(bus: &Bus, cfg: &NodeConfig, cpu_load_pct: f64) -> proto::NodeStats {
    sample_stats(&bus.stats, cfg, cpu_load_pct)
}

/// Builds one `/node/stats` sample from counters.
pub fn sample_stats(s: &LiveStats, cfg: &NodeConfig, cpu_load_pct: f64) -> proto::NodeStats {
    let drop = |name: &str, v: u64| proto::DropCounter {
        name: name.to_owned(),
        count: v,
    };
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    proto::NodeStats {
        host_ns: host_now_ns(),
        queues: vec![proto::QueueDepth {
            name: "recorder_writer".into(),
            depth: s.queue_depth.load(Ordering::Relaxed) as u32,
            capacity: s.queue_capacity.load(Ordering::Relaxed) as u32,
        }],
        drops: vec![
            drop("recorder_writer", ld(&s.queue_drops)),
            drop("camera_frames", ld(&s.camera_drops)),
            drop("radar_frames", ld(&s.radar_gaps)),
            drop("radar_bad_frames", ld(&s.radar_bad_frames)),
            drop("radar_skipped_bytes", ld(&s.radar_skipped_bytes)),
        ],
        temperatures: read_thermal(&cfg.thermal_root, &cfg.thermal_zones)
            .into_iter()
            .map(|(zone, temperature_c)| proto::Temperature {
                zone,
                temperature_c,
            })
            .collect(),
        cpu_load_pct,
    }
}

/// Runs the node-health source until the bus says stop.
pub fn run(cfg: NodeConfig, bus: Bus) {
    if cfg.stats_hz <= 0.0 {
        return;
    }
    let period = Duration::from_secs_f64(1.0 / cfg.stats_hz);
    let mut prev = cpu_jiffies();
    let mut next = Instant::now() + period;
    while bus.pause(next.saturating_duration_since(Instant::now())) {
        next += period;
        let now = cpu_jiffies();
        let load = match (prev, now) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                100.0 * (b1 - b0) as f64 / (t1 - t0) as f64
            }
            _ => 0.0,
        };
        prev = now;
        let m = sample(&bus, &cfg, load);
        bus.send(m.host_ns, &m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_thermal_zones_in_millidegrees() {
        let dir = tempfile::tempdir().expect("tmp");
        for (z, t, k) in [
            ("thermal_zone0", "45500\n", "cpu-thermal\n"),
            ("thermal_zone1", "bad", "gpu"),
        ] {
            let d = dir.path().join(z);
            std::fs::create_dir(&d).expect("mkdir");
            std::fs::write(d.join("temp"), t).expect("temp");
            std::fs::write(d.join("type"), k).expect("type");
        }
        let got = read_thermal(dir.path(), &[]);
        assert_eq!(got, vec![("thermal_zone0:cpu-thermal".to_owned(), 45.5)]);
        assert!(read_thermal(dir.path(), &["thermal_zone7".into()]).is_empty());
    }
}
