//! The radar source: TI mmWave UART frames → `/radar/frame`.
//!
//! Optionally sends the demo configuration on the CLI port first, then reads the data port
//! through `serialport`, decodes with [`crate::mmwave::MmwaveDecoder`], unwraps
//! `timeCpuCycles` into the radar device clock and stamps each frame with the host
//! `CLOCK_MONOTONIC_RAW` of the read that completed it. A vanished port is an audit event
//! (`LINK_DOWN_UP`) and is reopened; other sources keep recording meanwhile.

use super::bus::{Bus, host_now_ns};
use super::rig::RadarConfig;
use crate::mmwave::{CycleClock, MmwaveDecoder, MmwaveFrame};
use radcam_schema::proto;
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Converts a decoded frame into the contract message.
pub fn to_message(
    f: &MmwaveFrame,
    clock: &mut CycleClock,
    host_arrival_ns: i64,
) -> proto::RadarFrame {
    let points = f
        .points
        .iter()
        .map(|p| {
            let horiz = p.x_m.hypot(p.y_m);
            proto::RadarPoint {
                x_m: p.x_m,
                y_m: p.y_m,
                z_m: p.z_m,
                doppler_mps: p.doppler_mps,
                snr_db: p.snr_db.unwrap_or(0.0),
                noise_db: p.noise_db.unwrap_or(0.0),
                range_m: horiz.hypot(p.z_m),
                azimuth_rad: p.x_m.atan2(p.y_m),
                elevation_rad: p.z_m.atan2(horiz),
            }
        })
        .collect();
    let stats = f.stats.unwrap_or_default();
    proto::RadarFrame {
        radar_frame_id: u64::from(f.frame_number),
        time_cpu_cycles: f.time_cpu_cycles,
        cpu_hz: clock.cpu_hz(),
        device_ns: clock.device_ns(f.time_cpu_cycles),
        host_arrival_ns,
        subframe: f.subframe,
        points,
        inter_frame_processing_time_us: stats.inter_frame_processing_time_us,
        transmit_output_time_us: stats.transmit_output_time_us,
    }
}

/// Sends the demo `.cfg` on the CLI port, one command at a time, waiting for `Done`.
/// Returns the number of commands sent.
pub fn send_config(cfg: &RadarConfig) -> Result<usize, String> {
    let (Some(port), Some(file)) = (&cfg.cli_port, &cfg.config) else {
        return Ok(0);
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut cli = serialport::new(port.to_string_lossy(), cfg.cli_baud)
        .timeout(Duration::from_millis(50))
        .open()
        .map_err(|e| format!("{}: {e}", port.display()))?;
    let mut sent = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('%') {
            continue;
        }
        cli.write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("{}: {e}", port.display()))?;
        let deadline = Instant::now() + Duration::from_millis(cfg.cli_timeout_ms);
        let mut reply = String::new();
        let mut buf = [0u8; 256];
        loop {
            if reply.contains("Done") {
                break;
            }
            if reply.contains("Error") || reply.contains("not recognized") {
                return Err(format!(
                    "{}: the radar refused `{line}`: {}",
                    file.display(),
                    reply.trim()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{}: no `Done` for `{line}` within {} ms",
                    port.display(),
                    cfg.cli_timeout_ms
                ));
            }
            match cli.read(&mut buf) {
                Ok(n) => reply.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(format!("{}: {e}", port.display())),
            }
        }
        sent += 1;
    }
    Ok(sent)
}

/// Runs the radar source until the bus says stop.
pub fn run(cfg: RadarConfig, bus: Bus) {
    let port_name = cfg.data_port.to_string_lossy().into_owned();
    if cfg.config.is_some() {
        match send_config(&cfg) {
            Ok(n) => bus.audit(
                "CONFIG_UPDATED",
                "",
                "radar",
                format!(
                    "sent {n} commands from {}",
                    cfg.config
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string())
                ),
            ),
            Err(e) => bus.audit("CONFIG_UPDATED", "", "failed", format!("radar config: {e}")),
        }
    }
    let mut decoder = MmwaveDecoder::new(cfg.max_packet_bytes);
    let mut clock = CycleClock::new(cfg.cpu_hz);
    let mut last_frame: Option<u32> = None;
    let mut was_up = None::<bool>;
    let stats = bus.stats.clone();
    'reopen: while !bus.stopping() {
        let mut port = match serialport::new(&port_name, cfg.baud)
            .timeout(Duration::from_millis(100))
            .open()
        {
            Ok(p) => p,
            Err(e) => {
                if was_up != Some(false) {
                    bus.audit(
                        "LINK_DOWN_UP",
                        if was_up.is_some() { "UP" } else { "" },
                        "DOWN",
                        format!("radar data port {port_name}: {e}"),
                    );
                    was_up = Some(false);
                }
                bus.pause(Duration::from_millis(cfg.reconnect_interval_ms));
                continue;
            }
        };
        if was_up == Some(false) {
            bus.audit(
                "LINK_DOWN_UP",
                "DOWN",
                "UP",
                format!("radar data port {port_name} open"),
            );
        }
        was_up = Some(true);
        stats.radar_up.store(true, Ordering::Relaxed);
        let mut buf = vec![0u8; 16 * 1024];
        while !bus.stopping() {
            match port.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    let host = host_now_ns();
                    decoder.push(&buf[..n]);
                    while let Some(f) = decoder.next_frame() {
                        if let Some(last) = last_frame {
                            let gap = f.frame_number.wrapping_sub(last).wrapping_sub(1);
                            // a restart of the radar (counter back to 1) is not a gap
                            if gap > 0 && gap < 1 << 20 {
                                stats
                                    .radar_gaps
                                    .fetch_add(u64::from(gap), Ordering::Relaxed);
                            }
                        }
                        last_frame = Some(f.frame_number);
                        let msg = to_message(&f, &mut clock, host);
                        bus.send(host, &msg);
                        stats.radar_frames.fetch_add(1, Ordering::Relaxed);
                    }
                    let d = decoder.stats();
                    stats
                        .radar_bad_frames
                        .store(d.bad_frames, Ordering::Relaxed);
                    stats
                        .radar_skipped_bytes
                        .store(d.skipped_bytes, Ordering::Relaxed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    bus.audit(
                        "LINK_DOWN_UP",
                        "UP",
                        "DOWN",
                        format!("radar data port {port_name}: {e}"),
                    );
                    was_up = Some(false);
                    stats.radar_up.store(false, Ordering::Relaxed);
                    bus.pause(Duration::from_millis(cfg.reconnect_interval_ms));
                    continue 'reopen;
                }
            }
        }
    }
    let d = decoder.finish();
    stats
        .radar_bad_frames
        .store(d.bad_frames, Ordering::Relaxed);
    stats
        .radar_skipped_bytes
        .store(d.skipped_bytes, Ordering::Relaxed);
}
