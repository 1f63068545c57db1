//! Any bytes through both reader paths (indexed with CRC checks, and the salvage scan):
//! errors are fine, panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radcam_replay::runner::TOPICS;
use radcam_replay::salvage::Salvaged;
use radcam_replay::McapFile;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("radcam-fuzz-{}.mcap", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(mut f) = McapFile::open(&path) {
        let _ = f.verify();
        let _ = f.metadata();
        let _ = f.for_each_message(&TOPICS, |_| Ok(()));
    }
    if let Ok(mut s) = Salvaged::scan(&path) {
        let _ = s.for_each_message(&TOPICS, |_| Ok(()));
    }
});
