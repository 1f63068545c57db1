//! The camera source against Aravis's own fake GigE Vision camera (`arv-fake-gv-camera-0.8`,
//! Debian `aravis-tools`), started and killed by the test: contiguous frame ids, no drops at its
//! rate, the passive-sync fallback declared, and a camera that vanishes and comes back while the
//! recording goes on. Feature `aravis`; fails (never skips) without the fake camera.
#![cfg(feature = "aravis")]

use radcam_recorder::live::{LiveRequest, Rig};
use radcam_schema::proto;
use std::path::Path;
use std::process::{Child, Command, Stdio};

mod common;
use common::wait_for;

/// The fake camera on 127.0.0.1; killed on drop.
struct FakeCamera(Child);

impl FakeCamera {
    fn start() -> Self {
        let child = Command::new("arv-fake-gv-camera-0.8")
            .args(["-i", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("arv-fake-gv-camera-0.8 is needed (apt-get install aravis-tools): {e}")
            });
        FakeCamera(child)
    }
}

impl Drop for FakeCamera {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn records_the_fake_camera_passively_and_reconnects_after_it_dies() {
    let dir = tempfile::tempdir().expect("tmp");
    let cam = FakeCamera::start();
    let rig_toml = "[camera]\naddress = \"127.0.0.1\"\nlatch_rate_hz = 2\n\
                    frame_timeout_ms = 600\nreconnect_interval_ms = 100\n\
                    image_policy = \"decimated\"\nimage_decimation = 25\n\
                    [node]\nstats_hz = 0\n\
                    [output]\nflush_interval_ms = 200\nprogress_interval_ms = 20\n"
        .to_owned();
    let rig = Rig::parse(&rig_toml, Path::new("cam-rig.toml")).expect("rig");
    let out = dir.path().join("cam.mcap");
    let req = LiveRequest {
        out: out.clone(),
        duration_s: None,
        rig_toml,
    };
    let rec = common::Running::start(rig, req);
    let rx = &rec.rx;
    let first = wait_for(rx, "50 frames", |p| p.camera_frames >= 50);
    assert_eq!(first.camera_drops, 0, "drops at the fake camera's own rate");
    assert!(first.latch_rtt_us.is_none(), "the fake camera has no latch");
    drop(cam);
    let down = wait_for(rx, "the camera to be declared gone", |p| !p.camera_up);
    let _cam = FakeCamera::start();
    wait_for(rx, "the camera to come back", |p| {
        p.camera_up && p.camera_frames >= down.camera_frames + 50
    });
    let summary = rec.finish();
    assert_eq!(summary.last.camera_drops, 0);

    let bytes = std::fs::read(&out).expect("recording");
    let (mut frames, mut audits, mut images, mut latches) = (Vec::new(), Vec::new(), 0, 0);
    for m in mcap::MessageStream::new(&bytes).expect("valid MCAP") {
        let m = m.expect("message");
        match m.channel.topic.as_str() {
            "/camera/frame" => {
                frames.push(radcam_schema::decode::<proto::CameraFrame>(&m.data).expect("frame"))
            }
            "/audit" => {
                audits.push(radcam_schema::decode::<proto::AuditEvent>(&m.data).expect("audit"))
            }
            "/camera/image" => images += 1,
            "/camera/latch" => latches += 1,
            _ => {}
        }
    }
    frames.sort_by_key(|f| f.host_arrival_ns);
    assert_eq!(latches, 0);
    assert_eq!(
        images, 0,
        "images live in the companion file, not the timing file"
    );
    let companion = std::fs::read(dir.path().join("cam.images.mcap")).expect("image companion");
    let mut stamps = Vec::new();
    for m in mcap::MessageStream::new(&companion).expect("valid companion MCAP") {
        let m = m.expect("message");
        assert_eq!(m.channel.topic, "/camera/image");
        let img: radcam_schema::foxglove_topics::RawImage =
            prost::Message::decode(&m.data[..]).expect("raw image");
        assert_eq!(img.data.len(), (img.step * img.height) as usize);
        stamps.push(m.log_time);
    }
    // one image in 25 frames
    let expected = frames.len() / 25;
    assert!(
        stamps.len() + 2 >= expected && stamps.len() <= expected + 2,
        "{} images for {} frames",
        stamps.len(),
        frames.len()
    );
    // contiguous ids within each connection; exactly one restart
    let breaks = frames
        .windows(2)
        .filter(|w| w[1].frame_id != w[0].frame_id + 1)
        .count();
    assert_eq!(breaks, 1, "one discontinuity, at the restart");
    assert!(
        frames
            .iter()
            .all(|f| f.width_px > 0 && f.height_px > 0 && f.device_ns > 0)
    );
    // the fake camera stamps frames with host realtime, as Aravis's system timestamp is
    assert!(frames.iter().all(|f| f.aravis_system_ns > 0));
    let kinds: Vec<(&str, &str)> = audits
        .iter()
        .map(|a| (a.kind.as_str(), a.new_state.as_str()))
        .collect();
    assert!(
        kinds.contains(&("TIMEBASE_SWITCHED", "passive")),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("LINK_DOWN_UP", "DOWN")), "{kinds:?}");
    assert!(kinds.contains(&("LINK_DOWN_UP", "UP")), "{kinds:?}");
}
