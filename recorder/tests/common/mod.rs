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
