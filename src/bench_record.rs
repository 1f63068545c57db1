//! `radcam bench record`: raw camera frame writing through the recorder's MCAP writer against
//! `dd`'s sequential write throughput on the same disk (both fsync'd before the clock stops).

use anyhow::{Context, Result, bail};
use radcam_recorder::McapSink;
use radcam_schema::foxglove_topics::{self, CAMERA_IMAGE, RawImage};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What to benchmark.
pub struct RecordBench {
    /// Bytes of frames to write, MiB.
    pub mib: u64,
    /// Directory on the disk to measure (default: the system temp dir).
    pub dir: Option<PathBuf>,
}

/// The numbers.
#[derive(Debug, serde::Serialize)]
pub struct RecordBenchResult {
    /// Payload written per run, MiB.
    pub mib: u64,
    /// Frame size, pixels (mono8).
    pub frame_px: String,
    /// `dd bs=4M conv=fdatasync` throughput, MB/s.
    pub dd_mb_s: f64,
    /// Raw frames through an uncompressed MCAP (`image_policy = "raw"` companion), MB/s.
    pub raw_mcap_mb_s: f64,
    /// The same frames through a zstd MCAP, MB/s (what compression would cost).
    pub zstd_mcap_mb_s: f64,
    /// raw_mcap / dd.
    pub raw_over_dd: f64,
    /// The target: raw_over_dd >= 0.8.
    pub meets_target: bool,
}

const W: u32 = 2048;
const H: u32 = 1536;

/// A textured frame (gradient plus noise), as incompressible as a real sensor's.
fn frame(seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..W * H)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (((i % W) / 8) as u8).wrapping_add((x & 0x1F) as u8)
        })
        .collect()
}

fn fsync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("{}: fsync", path.display()))
}

fn mcap_run(path: &Path, frames: &[Vec<u8>], n: u64, compressed: bool) -> Result<f64> {
    let t = Instant::now();
    let mut sink = McapSink::create_with(path, compressed)?;
    for i in 0..n {
        let data = &frames[(i % frames.len() as u64) as usize];
        let img = RawImage {
            timestamp: Some(foxglove_topics::timestamp(i as i64 * 33_000_000)),
            frame_id: "camera".into(),
            width: W,
            height: H,
            encoding: "mono8".into(),
            step: W,
            data: data.clone().into(),
        };
        let bytes = foxglove_topics::encode(CAMERA_IMAGE, &img)?;
        sink.write_encoded(CAMERA_IMAGE, i as i64 * 33_000_000 + 1, &bytes)?;
    }
    sink.finish()?;
    fsync(path)?;
    let s = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(path);
    Ok((n * u64::from(W * H)) as f64 / 1e6 / s)
}

/// Runs the benchmark.
pub fn run(b: &RecordBench) -> Result<RecordBenchResult> {
    if b.mib == 0 {
        bail!("--mib: must be at least 1");
    }
    let dir = tempfile::Builder::new()
        .prefix("radcam-bench-record")
        .tempdir_in(b.dir.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating the benchmark directory")?;
    let frame_bytes = u64::from(W * H);
    let n = (b.mib * 1024 * 1024).div_ceil(frame_bytes);
    let bytes = n * frame_bytes;
    let frames: Vec<Vec<u8>> = (1..=8).map(frame).collect();

    let dd_path = dir.path().join("dd.bin");
    let t = Instant::now();
    let st = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", dd_path.display()))
        .args(["bs=4M", "conv=fdatasync", "status=none"])
        .arg(format!("count={}", bytes.div_ceil(4 << 20)))
        .status()
        .context("running dd")?;
    if !st.success() {
        bail!("dd failed: {st}");
    }
    let dd_mb_s = (bytes.div_ceil(4 << 20) * (4 << 20)) as f64 / 1e6 / t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&dd_path);

    let raw = mcap_run(&dir.path().join("raw.mcap"), &frames, n, false)?;
    let zstd = mcap_run(&dir.path().join("zstd.mcap"), &frames, n, true)?;
    Ok(RecordBenchResult {
        mib: b.mib,
        frame_px: format!("{W}x{H}"),
        dd_mb_s,
        raw_mcap_mb_s: raw,
        zstd_mcap_mb_s: zstd,
        raw_over_dd: raw / dd_mb_s,
        meets_target: raw / dd_mb_s >= 0.8,
    })
}
