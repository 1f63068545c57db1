//! The radar source end to end through a real pseudo-terminal: `record_rig` opens the pty's
//! slave as its data port while the test plays the radar on the master side, sending TI UART
//! frames, garbage, a cut frame and a frame-number gap, then hangs up.

use radcam_recorder::live::{LiveRequest, Rig};
use radcam_recorder::mmwave::{DetectedPoint, MmwaveFrame, encode_frame};
use radcam_schema::proto;
use serialport::SerialPort;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::wait_for;

fn frame(n: u32) -> MmwaveFrame {
    MmwaveFrame {
        version: 0x0306_0000,
        platform: 0xA6843,
        frame_number: n,
        time_cpu_cycles: n.wrapping_mul(20_000_000),
        num_detected_obj: 2,
        points: vec![
            DetectedPoint {
                x_m: 1.0,
                y_m: 10.0,
                z_m: 0.5,
                doppler_mps: -2.0,
                snr_db: Some(15.0),
                noise_db: Some(3.0),
            };
            2
        ],
        ..MmwaveFrame::default()
    }
}

fn messages(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).expect("read recording");
    mcap::MessageStream::new(&bytes)
        .expect("a valid MCAP")
        .map(|m| {
            let m = m.expect("message");
            (m.channel.topic.clone(), m.data.into_owned())
        })
        .collect()
}

#[test]
fn records_uart_frames_resyncs_counts_gaps_and_survives_a_hangup() {
    let (mut master, slave) = serialport::TTYPort::pair().expect("a pseudo-terminal pair");
    let slave_path = slave.name().expect("pty name");
    let dir = tempfile::tempdir().expect("tmp");
    let rig_toml = format!(
        "[radar]\ndata_port = \"{slave_path}\"\ncpu_hz = 200e6\nreconnect_interval_ms = 50\n\
         [node]\nstats_hz = 20\n[output]\nflush_interval_ms = 50\nprogress_interval_ms = 10\n"
    );
    let rig = Rig::parse(&rig_toml, Path::new("pty-rig.toml")).expect("rig");
    let out = dir.path().join("radar.mcap");
    let req = LiveRequest {
        out: out.clone(),
        duration_s: None,
        rig_toml,
    };
    let rec = common::Running::start(rig, req);
    let rx = &rec.rx;

    // warm-up frames until the recorder has the port open and decodes
    let mut n = 1u32;
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        master.write_all(&encode_frame(&frame(n))).expect("write");
        n += 1;
        let seen = rx
            .recv_timeout(Duration::from_millis(200))
            .map(|p| p.radar_frames)
            .unwrap_or(0);
        if seen > 0 {
            break;
        }
        assert!(Instant::now() < end, "the recorder never decoded a frame");
    }
    let warm = wait_for(rx, "warm-up frames", |p| p.radar_frames == u64::from(n - 1));
    assert_eq!(warm.radar_gaps, 0);

    // garbage, a whole frame, a cut frame, a whole frame, a gap, a whole frame
    let mut s = b"\x00\xffnoise on the line\x02\x01".to_vec();
    s.extend(encode_frame(&frame(n)));
    let cut = encode_frame(&frame(n + 1));
    s.extend(&cut[..cut.len() / 2]);
    s.extend(encode_frame(&frame(n + 2)));
    s.extend(encode_frame(&frame(n + 4)));
    master.write_all(&s).expect("write");
    let after = wait_for(rx, "the test frames", |p| {
        p.radar_frames == u64::from(n - 1) + 3
    });
    assert_eq!(after.radar_gaps, 2, "n+1 was cut and n+3 never sent");
    assert_eq!(after.radar_bad_frames, 1);

    // the radar hangs up: the recorder reports the link down and keeps running
    drop(master);
    drop(slave);
    wait_for(rx, "the link to go down", |p| !p.radar_up);
    let summary = rec.finish();
    assert!(summary.path.exists());

    let msgs = messages(&out);
    let frames: Vec<proto::RadarFrame> = msgs
        .iter()
        .filter(|(t, _)| t == "/radar/frame")
        .map(|(_, d)| radcam_schema::decode(d).expect("radar frame"))
        .collect();
    let ids: Vec<u64> = frames.iter().map(|f| f.radar_frame_id).collect();
    let tail: Vec<u64> = ids[ids.len() - 3..].to_vec();
    let n = u64::from(n);
    assert_eq!(tail, vec![n, n + 2, n + 4]);
    let last = frames.last().expect("a frame");
    assert_eq!(last.points.len(), 2);
    assert!((last.points[0].range_m - (1.0f32 + 100.0 + 0.25).sqrt()).abs() < 1e-4);
    assert!((last.points[0].snr_db - 15.0).abs() < 1e-4);
    // device clock: 20 M cycles per frame at 200 MHz = 100 ms per frame number
    let first = &frames[0];
    let dt = last.device_ns - first.device_ns;
    assert_eq!(
        dt,
        (last.radar_frame_id - first.radar_frame_id) as i64 * 100_000_000
    );
    assert!(
        frames
            .windows(2)
            .all(|w| w[1].host_arrival_ns >= w[0].host_arrival_ns)
    );

    let audits: Vec<proto::AuditEvent> = msgs
        .iter()
        .filter(|(t, _)| t == "/audit")
        .map(|(_, d)| radcam_schema::decode(d).expect("audit"))
        .collect();
    assert!(
        audits
            .iter()
            .any(|a| a.kind == "LINK_DOWN_UP" && a.new_state == "DOWN"),
        "{audits:?}"
    );
    let stats: Vec<proto::NodeStats> = msgs
        .iter()
        .filter(|(t, _)| t == "/node/stats")
        .map(|(_, d)| radcam_schema::decode(d).expect("node stats"))
        .collect();
    let last_stats = stats.last().expect("node stats were recorded");
    let drops = |name: &str| {
        last_stats
            .drops
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.count)
    };
    assert_eq!(drops("radar_bad_frames"), Some(1));
    assert_eq!(drops("radar_frames"), Some(2));
}

/// Plays the radar's CLI on the master side: answers `Done` to every command except
/// `badCommand`; returns the commands it received once the port closes.
fn fake_cli(mut master: serialport::TTYPort) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        use std::io::Read;
        let mut got = Vec::new();
        let mut line = Vec::new();
        let mut buf = [0u8; 256];
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            let n = match master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => break,
            };
            for &b in &buf[..n] {
                if b != b'\n' {
                    line.push(b);
                    continue;
                }
                let cmd = String::from_utf8_lossy(&line).trim().to_owned();
                line.clear();
                let reply = if cmd == "badCommand" {
                    format!("{cmd}\r\n'{cmd}' is not recognized as a CLI command\r\nmmwDemo:/>")
                } else {
                    format!("{cmd}\r\nDone\r\nmmwDemo:/>")
                };
                got.push(cmd);
                if master.write_all(reply.as_bytes()).is_err() {
                    return got;
                }
            }
        }
        got
    })
}

fn cli_rig(dir: &Path, cli: &str, cfg_text: &str) -> radcam_recorder::live::rig::RadarConfig {
    let cfg = dir.join("profile.cfg");
    std::fs::write(&cfg, cfg_text).expect("cfg");
    let toml = format!(
        "[radar]\ndata_port = \"/dev/null\"\ncli_port = \"{cli}\"\nconfig = \"{}\"\n\
         cli_timeout_ms = 5000\n",
        cfg.display()
    );
    Rig::parse(&toml, Path::new("cli-rig.toml"))
        .expect("rig")
        .radar
        .expect("radar")
}

#[test]
fn sends_the_config_on_the_cli_port_and_reports_a_refused_command() {
    let dir = tempfile::tempdir().expect("tmp");
    let (master, slave) = serialport::TTYPort::pair().expect("pty");
    let cli = slave.name().expect("name");
    let radar = fake_cli(master);
    let cfg = cli_rig(
        dir.path(),
        &cli,
        "% comment line\nsensorStop\nflushCfg\n\ndfeDataOutputMode 1\nsensorStart\n",
    );
    let n = radcam_recorder::live::radar::send_config(&cfg).expect("config accepted");
    assert_eq!(n, 4);
    drop(slave);
    let got = radar.join().expect("fake cli");
    assert_eq!(
        got,
        [
            "sensorStop",
            "flushCfg",
            "dfeDataOutputMode 1",
            "sensorStart"
        ]
    );

    let (master, slave) = serialport::TTYPort::pair().expect("pty");
    let cli = slave.name().expect("name");
    let radar = fake_cli(master);
    let cfg = cli_rig(dir.path(), &cli, "sensorStop\nbadCommand\nsensorStart\n");
    let e = radcam_recorder::live::radar::send_config(&cfg).expect_err("refused");
    assert!(e.contains("badCommand") && e.contains("profile.cfg"), "{e}");
    drop(slave);
    assert_eq!(
        radar.join().expect("fake cli"),
        ["sensorStop", "badCommand"]
    );
}
