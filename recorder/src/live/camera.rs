//! The camera source (feature `aravis`): a GenICam camera through libaravis →
//! `/camera/frame`, `/camera/latch` and, by image policy, `/camera/image` (raw) or
//! `/camera/image/compressed` (JPEG).
//!
//! - Frames: device timestamp (`buffer.timestamp()`, ns of the device clock), Aravis's system
//!   timestamp (`aravis_system_ns`: host realtime at the first packet; for diagnosis) and the host
//!   `CLOCK_MONOTONIC_RAW` read when the buffer was popped (`host_arrival_ns`).
//! - Latch pairs, in bursts: host read, the latch command, host read (only the command is
//!   bracketed), then the latched value. The latch feature is detected: SFNC `TimestampLatch` /
//!   `TimestampLatchValue`, or GigE `GevTimestampControlLatch` / `GevTimestampValue`. With
//!   neither, sync falls back to passive (frame arrivals), declared by a `TIMEBASE_SWITCHED`
//!   audit event.
//! - Drops: frame-id gaps plus the stream's failures and underruns.
//! - A camera that stops delivering for `frame_timeout_ms` is gone: `LINK_DOWN_UP` (DOWN), and
//!   the source reopens it every `reconnect_interval_ms` (`LINK_DOWN_UP` UP when it is back).
//!   The other sources record on meanwhile.

use super::bus::{Bus, host_now_ns};
use super::rig::{CameraConfig, ImagePolicy};
use aravis::prelude::*;
use aravis::{Buffer, BufferStatus, Camera};
use radcam_schema::foxglove_topics::{
    self, CAMERA_IMAGE, CAMERA_IMAGE_COMPRESSED, CompressedImage, RawImage,
};
use radcam_schema::proto;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Which latch the camera offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latch {
    /// SFNC `TimestampLatch` + `TimestampLatchValue`.
    Sfnc,
    /// GigE Vision `GevTimestampControlLatch` + `GevTimestampValue`.
    Gev,
    /// None: passive sync from frame arrivals.
    Passive,
}

impl Latch {
    fn features(self) -> Option<(&'static str, &'static str)> {
        match self {
            Latch::Sfnc => Some(("TimestampLatch", "TimestampLatchValue")),
            Latch::Gev => Some(("GevTimestampControlLatch", "GevTimestampValue")),
            Latch::Passive => None,
        }
    }

    /// Name written to the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Latch::Sfnc => "TimestampLatch",
            Latch::Gev => "GevTimestampControlLatch",
            Latch::Passive => "passive",
        }
    }
}

fn available(cam: &Camera, feature: &str) -> bool {
    cam.is_feature_available(feature).unwrap_or(false)
}

/// Detects the latch feature pair the camera implements.
pub fn detect_latch(cam: &Camera) -> Latch {
    for l in [Latch::Sfnc, Latch::Gev] {
        if let Some((cmd, value)) = l.features()
            && available(cam, cmd)
            && available(cam, value)
        {
            return l;
        }
    }
    Latch::Passive
}

struct Open {
    cam: Camera,
    stream: aravis::Stream,
    latch: Latch,
    tick_hz: f64,
    exposure_us: f64,
    encoding: &'static str,
    bytes_per_px: u32,
    pixel_format: String,
}

fn open(cfg: &CameraConfig) -> Result<Open, String> {
    let e = |what: &str, err: aravis::glib::Error| format!("{what}: {err}");
    let cam = Camera::new(cfg.address.as_deref()).map_err(|x| {
        format!(
            "camera {}: {x}",
            cfg.address.as_deref().unwrap_or("(first found)")
        )
    })?;
    if let Some(pf) = &cfg.pixel_format {
        cam.set_pixel_format_from_string(pf)
            .map_err(|x| e(&format!("PixelFormat {pf}"), x))?;
    }
    if let Some(r) = cfg.frame_rate_hz {
        cam.set_frame_rate(r)
            .map_err(|x| e(&format!("AcquisitionFrameRate {r}"), x))?;
    }
    cam.set_acquisition_mode(aravis::AcquisitionMode::Continuous)
        .map_err(|x| e("AcquisitionMode", x))?;
    let latch = if cfg.latch_rate_hz > 0.0 {
        detect_latch(&cam)
    } else {
        Latch::Passive
    };
    let tick_hz = cam
        .integer("GevTimestampTickFrequency")
        .ok()
        .filter(|&t| t > 0)
        .map_or(cfg.tick_hz, |t| t as f64);
    let exposure_us = cam.exposure_time().unwrap_or(0.0);
    let pf = cam
        .pixel_format_as_string()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let (encoding, bytes_per_px) = match pf.as_str() {
        "Mono8" => ("mono8", 1),
        "Mono16" => ("mono16", 2),
        "RGB8" | "RGB8Packed" => ("rgb8", 3),
        "BGR8" | "BGR8Packed" => ("bgr8", 3),
        "BayerRG8" => ("bayer_rggb8", 1),
        "BayerGR8" => ("bayer_grbg8", 1),
        "BayerBG8" => ("bayer_bggr8", 1),
        "BayerGB8" => ("bayer_gbrg8", 1),
        _ => ("", 0),
    };
    let payload = cam.payload().map_err(|x| e("PayloadSize", x))? as usize;
    let stream = cam.create_stream().map_err(|x| e("stream", x))?;
    for _ in 0..cfg.buffers {
        stream.push_buffer(Buffer::new_allocate(payload));
    }
    cam.start_acquisition()
        .map_err(|x| e("AcquisitionStart", x))?;
    Ok(Open {
        cam,
        stream,
        latch,
        tick_hz,
        exposure_us,
        encoding,
        bytes_per_px,
        pixel_format: pf,
    })
}

/// The buffer's bytes. Aravis hands out a raw pointer; it stays valid while the buffer lives,
/// and the copy is made before the buffer goes back to the stream.
#[allow(unsafe_code)]
fn buffer_bytes(b: &Buffer) -> Vec<u8> {
    let (ptr, len) = b.data();
    if ptr.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: `data()` returns Aravis's pointer to `len` initialised bytes owned by `b`, which
    // is borrowed for the whole copy and not pushed back to the stream until after it.
    unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
}

/// JPEG-encodes an 8-bit mono or RGB/BGR frame; `None` for other formats or a short buffer.
pub fn jpeg(data: &[u8], width: u32, height: u32, encoding: &str, quality: u8) -> Option<Vec<u8>> {
    use jpeg_encoder::{ColorType, Encoder};
    let (color, bpp) = match encoding {
        "mono8" => (ColorType::Luma, 1),
        "rgb8" => (ColorType::Rgb, 3),
        "bgr8" => (ColorType::Bgr, 3),
        _ => return None,
    };
    let need = width as usize * height as usize * bpp;
    if data.len() < need {
        return None;
    }
    let (w, h) = (u16::try_from(width).ok()?, u16::try_from(height).ok()?);
    let mut out = Vec::with_capacity(need / 8);
    Encoder::new(&mut out, quality)
        .encode(&data[..need], w, h, color)
        .ok()?;
    Some(out)
}

struct Camera0 {
    jpeg_failures: u64,
    seq: u64,
    last_frame_id: Option<u64>,
    frames_seen: u64,
}

fn latch_burst(o: &Open, cfg: &CameraConfig, bus: &Bus, st: &mut Camera0) {
    let Some((cmd, value)) = o.latch.features() else {
        return;
    };
    for i in 0..cfg.latch_burst {
        let before = host_now_ns();
        let ok = o.cam.execute_command(cmd);
        let after = host_now_ns();
        if ok.is_err() {
            return;
        }
        let Ok(ticks) = o.cam.integer(value) else {
            return;
        };
        let after_read = host_now_ns();
        let ticks = ticks.max(0) as u64;
        let device_ns = (ticks as f64 * 1e9 / o.tick_hz).round() as i64;
        st.seq += 1;
        bus.send(
            after_read,
            &proto::CameraLatch {
                seq: st.seq,
                host_before_ns: before,
                device_ns,
                host_after_ns: after,
                host_after_read_ns: after_read,
                device_ticks: ticks,
                tick_hz: o.tick_hz,
                burst_index: i,
            },
        );
        bus.stats
            .latch_rtt_ns
            .store(after - before, Ordering::Relaxed);
        bus.stats
            .camera_offset_ns
            .store(device_ns - (before + after) / 2, Ordering::Relaxed);
    }
}

fn on_frame(b: &Buffer, o: &Open, cfg: &CameraConfig, bus: &Bus, st: &mut Camera0) {
    let host = host_now_ns();
    let s = &bus.stats;
    if b.status() != BufferStatus::Success {
        s.camera_drops.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let id = b.frame_id();
    if let Some(last) = st.last_frame_id {
        let gap = id.wrapping_sub(last).wrapping_sub(1);
        // GigE frame ids are 16 bit on older devices and skip 0 on wrap
        if gap > 0 && gap < 1 << 15 && !(last == 65_535 && id == 1) {
            s.camera_drops.fetch_add(gap, Ordering::Relaxed);
        }
    }
    st.last_frame_id = Some(id);
    st.frames_seen += 1;
    let device_ns = b.timestamp() as i64;
    let (w, h) = (
        b.image_width().max(0) as u32,
        b.image_height().max(0) as u32,
    );
    bus.send(
        host,
        &proto::CameraFrame {
            frame_id: id,
            device_ns,
            device_ticks: (device_ns as f64 * o.tick_hz / 1e9).round() as u64,
            tick_hz: o.tick_hz,
            host_arrival_ns: host,
            exposure_us: o.exposure_us,
            timestamp_marks: proto::FrameInstant::Unspecified as i32,
            width_px: w,
            height_px: h,
            aravis_system_ns: b.system_timestamp() as i64,
        },
    );
    s.camera_frames.fetch_add(1, Ordering::Relaxed);
    if o.latch == Latch::Passive {
        s.camera_offset_ns
            .store(device_ns - host, Ordering::Relaxed);
    }
    let keep = match cfg.image_policy {
        ImagePolicy::None => false,
        ImagePolicy::Raw | ImagePolicy::Jpeg => true,
        ImagePolicy::Decimated => st.frames_seen % u64::from(cfg.image_decimation) == 1,
    };
    if keep && cfg.image_policy == ImagePolicy::Jpeg {
        match jpeg(&buffer_bytes(b), w, h, o.encoding, cfg.jpeg_quality) {
            Some(data) => {
                let img = CompressedImage {
                    timestamp: Some(foxglove_topics::timestamp(host)),
                    frame_id: "camera".into(),
                    data: data.into(),
                    format: "jpeg".into(),
                };
                if let Ok(bytes) = foxglove_topics::encode(CAMERA_IMAGE_COMPRESSED, &img) {
                    bus.send_encoded(CAMERA_IMAGE_COMPRESSED, host, bytes);
                }
            }
            None => {
                st.jpeg_failures += 1;
                if st.jpeg_failures == 1 {
                    bus.audit(
                        "CONFIG_UPDATED",
                        "jpeg",
                        "none",
                        format!(
                            "image_policy jpeg: pixel format '{}' ({w}x{h}) cannot be \
                             JPEG-encoded (8-bit mono or RGB only); no images are recorded",
                            o.pixel_format
                        ),
                    );
                }
            }
        }
    } else if keep && !o.encoding.is_empty() {
        let img = RawImage {
            timestamp: Some(foxglove_topics::timestamp(host)),
            frame_id: "camera".into(),
            width: w,
            height: h,
            encoding: o.encoding.into(),
            step: w * o.bytes_per_px,
            data: buffer_bytes(b).into(),
        };
        if let Ok(bytes) = foxglove_topics::encode(CAMERA_IMAGE, &img) {
            bus.send_encoded(CAMERA_IMAGE, host, bytes);
        }
    }
}

/// Runs the camera source until the bus says stop.
pub fn run(cfg: CameraConfig, bus: Bus) {
    let _ = aravis::Aravis::initialize();
    let mut st = Camera0 {
        jpeg_failures: 0,
        seq: 0,
        last_frame_id: None,
        frames_seen: 0,
    };
    let mut was_up: Option<bool> = None;
    let mut announced_latch: Option<Latch> = None;
    let reconnect = Duration::from_millis(cfg.reconnect_interval_ms);
    let frame_timeout = Duration::from_millis(cfg.frame_timeout_ms);
    let latch_period =
        (cfg.latch_rate_hz > 0.0).then(|| Duration::from_secs_f64(1.0 / cfg.latch_rate_hz));
    while !bus.stopping() {
        let o = match open(&cfg) {
            Ok(o) => o,
            Err(why) => {
                if was_up != Some(false) {
                    bus.audit(
                        "LINK_DOWN_UP",
                        if was_up.is_some() { "UP" } else { "" },
                        "DOWN",
                        why,
                    );
                    was_up = Some(false);
                }
                bus.stats.camera_up.store(false, Ordering::Relaxed);
                bus.pause(reconnect);
                continue;
            }
        };
        if was_up == Some(false) {
            bus.audit("LINK_DOWN_UP", "DOWN", "UP", "camera open again".into());
        }
        was_up = Some(true);
        bus.stats.camera_up.store(true, Ordering::Relaxed);
        if announced_latch != Some(o.latch) {
            let (old, detail) = match o.latch {
                Latch::Passive => (
                    "latch",
                    "the camera has neither TimestampLatch nor GevTimestampControlLatch: \
                     passive sync from frame arrivals"
                        .to_owned(),
                ),
                l => (
                    "",
                    format!("latching with {} at {} Hz", l.name(), cfg.latch_rate_hz),
                ),
            };
            bus.audit("TIMEBASE_SWITCHED", old, o.latch.name(), detail);
            announced_latch = Some(o.latch);
        }
        // a reconnected camera restarts its frame ids
        st.last_frame_id = None;
        let mut last_frame = Instant::now();
        let mut next_latch = Instant::now();
        let (mut base_fail, mut base_under) = (0u64, 0u64);
        let mut lost = false;
        while !bus.stopping() {
            if let Some(p) = latch_period
                && Instant::now() >= next_latch
            {
                latch_burst(&o, &cfg, &bus, &mut st);
                next_latch += p;
            }
            match o.stream.timeout_pop_buffer(50_000) {
                Some(b) => {
                    on_frame(&b, &o, &cfg, &bus, &mut st);
                    o.stream.push_buffer(b);
                    last_frame = Instant::now();
                }
                None if last_frame.elapsed() > frame_timeout => {
                    lost = true;
                    break;
                }
                None => {}
            }
            let (_, fail, under) = o.stream.statistics();
            let new = fail.saturating_sub(base_fail) + under.saturating_sub(base_under);
            if new > 0 {
                bus.stats.camera_drops.fetch_add(new, Ordering::Relaxed);
                (base_fail, base_under) = (fail, under);
            }
        }
        let _ = o.cam.stop_acquisition();
        drop(o);
        if lost {
            bus.audit(
                "LINK_DOWN_UP",
                "UP",
                "DOWN",
                format!(
                    "camera {}: no frame for {} ms",
                    cfg.address.as_deref().unwrap_or("(first found)"),
                    cfg.frame_timeout_ms
                ),
            );
            was_up = Some(false);
            bus.stats.camera_up.store(false, Ordering::Relaxed);
            bus.pause(reconnect);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_encodes_mono_and_rgb_and_refuses_the_rest() {
        let mono: Vec<u8> = (0..64u32 * 48).map(|i| (i % 251) as u8).collect();
        let j = jpeg(&mono, 64, 48, "mono8", 85).expect("mono8 encodes");
        assert_eq!(&j[..2], &[0xFF, 0xD8]);
        assert_eq!(&j[j.len() - 2..], &[0xFF, 0xD9]);
        let rgb = vec![128u8; 64 * 48 * 3];
        assert!(jpeg(&rgb, 64, 48, "rgb8", 50).is_some());
        assert!(jpeg(&mono, 64, 48, "bayer_rggb8", 85).is_none());
        assert!(
            jpeg(&mono[..100], 64, 48, "mono8", 85).is_none(),
            "short buffer"
        );
    }
}
