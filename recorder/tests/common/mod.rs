//! Helpers shared by the recorder's device tests.

use radcam_recorder::live::Progress;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Waits for a progress snapshot satisfying `ok` and returns it; panics after 60 s.
pub fn wait_for(rx: &Receiver<Progress>, what: &str, ok: impl Fn(&Progress) -> bool) -> Progress {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(p) if ok(&p) => return p,
            Ok(_) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// A recording running on its own thread, fed to the test through its progress snapshots.
pub struct Running {
    /// Set to stop and finalize the recording.
    pub stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Every progress snapshot.
    pub rx: Receiver<Progress>,
    handle: std::thread::JoinHandle<radcam_recorder::Result<radcam_recorder::live::LiveSummary>>,
}

impl Running {
    /// Starts recording `rig` into `req.out`.
    pub fn start(rig: radcam_recorder::live::Rig, req: radcam_recorder::live::LiveRequest) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            radcam_recorder::live::record_rig(&rig, &req, flag, |p| {
                let _ = tx.send(p.clone());
            })
        });
        Self { stop, rx, handle }
    }

    /// Stops the recording and waits for the finalized file's summary.
    pub fn finish(self) -> radcam_recorder::live::LiveSummary {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle
            .join()
            .expect("recorder thread")
            .expect("recording finalized")
    }
}
