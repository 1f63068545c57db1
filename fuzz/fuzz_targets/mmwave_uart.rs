//! Fuzzes the TI mmWave UART decoder: arbitrary bytes fed in pieces whose sizes come from the
//! first byte. It must never panic, and every decoded frame must be counted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radcam_recorder::mmwave::MmwaveDecoder;

fuzz_target!(|data: &[u8]| {
    let Some((&piece, rest)) = data.split_first() else {
        return;
    };
    let mut d = MmwaveDecoder::new(4096);
    let mut frames = 0u64;
    for c in rest.chunks(usize::from(piece).max(1)) {
        d.push(c);
        while d.next_frame().is_some() {
            frames += 1;
        }
    }
    let s = d.finish();
    assert_eq!(s.frames, frames);
    assert!(s.skipped_bytes <= rest.len() as u64);
});
