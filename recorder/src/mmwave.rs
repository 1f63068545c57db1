//! TI mmWave out-of-box demo UART data stream (SDK 3.x): a resynchronising frame decoder.
//!
//! Little-endian throughout. A frame is the 8-byte magic word, a 40-byte header and `numTLVs`
//! TLVs, padded to `totalPacketLen`. The decoder takes bytes in whatever pieces the serial port
//! hands out, finds the magic word, checks every length against the packet, and after garbage or
//! a cut frame resynchronises on the next magic word, counting what it skipped
//! ([`DecoderStats`]). It never panics on any input (fuzzed in `fuzz/`, proptested below).

/// The magic word as it appears on the wire.
pub const MAGIC: [u8; 8] = [0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x08, 0x07];
/// Frame header length, bytes (SDK 3.x, with `subFrameNumber`).
pub const HEADER_LEN: usize = 40;
/// TLV header length, bytes.
pub const TLV_HEADER_LEN: usize = 8;
/// Largest `totalPacketLen` accepted by default, bytes; longer declared lengths are corrupt.
pub const DEFAULT_MAX_PACKET_LEN: usize = 1 << 20;

/// TLV type 1: detected points.
pub const TLV_DETECTED_POINTS: u32 = 1;
/// TLV type 2: range profile.
pub const TLV_RANGE_PROFILE: u32 = 2;
/// TLV type 3: noise profile.
pub const TLV_NOISE_PROFILE: u32 = 3;
/// TLV type 6: processing statistics.
pub const TLV_STATS: u32 = 6;
/// TLV type 7: per-point SNR and noise.
pub const TLV_SIDE_INFO: u32 = 7;
/// TLV type 9: temperature statistics.
pub const TLV_TEMPERATURE: u32 = 9;

/// One detected point (TLV 1, with TLV 7's side info when present).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectedPoint {
    /// Position in the radar frame (x right, y boresight, z up), m.
    pub x_m: f32,
    /// See `x_m`.
    pub y_m: f32,
    /// See `x_m`.
    pub z_m: f32,
    /// Radial velocity, positive away from the radar, m/s.
    pub doppler_mps: f32,
    /// SNR, dB (TLV 7 sends 0.1 dB units); `None` without TLV 7.
    pub snr_db: Option<f32>,
    /// Noise, dB; `None` without TLV 7.
    pub noise_db: Option<f32>,
}

/// TLV 6: the demo's processing statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameStats {
    /// Inter-frame processing time, µs.
    pub inter_frame_processing_time_us: u32,
    /// UART transmit time of the previous frame, µs.
    pub transmit_output_time_us: u32,
    /// Inter-frame processing margin, µs.
    pub inter_frame_processing_margin_us: u32,
    /// Inter-chirp processing margin, µs.
    pub inter_chirp_processing_margin_us: u32,
    /// Active-frame CPU load, %.
    pub active_frame_cpu_load_pct: u32,
    /// Inter-frame CPU load, %.
    pub inter_frame_cpu_load_pct: u32,
}

/// TLV 9: temperature report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TemperatureStats {
    /// 0 when the report is valid.
    pub valid: i32,
    /// Radar time of the report, ms.
    pub time_ms: u32,
    /// Rx0-3, Tx0-2, PM, Dig0-1 temperatures, °C.
    pub sensors_c: [i16; 10],
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MmwaveFrame {
    /// SDK version, major<<24 | minor<<16 | bugfix<<8 | build.
    pub version: u32,
    /// Platform, e.g. 0xA6843.
    pub platform: u32,
    /// The radar's frame counter.
    pub frame_number: u32,
    /// Radar CPU cycle counter at the frame (a device clock, wraps at 2^32).
    pub time_cpu_cycles: u32,
    /// `numDetectedObj` from the header.
    pub num_detected_obj: u32,
    /// Sub-frame number.
    pub subframe: u32,
    /// TLV 1 points (with TLV 7 side info).
    pub points: Vec<DetectedPoint>,
    /// TLV 2 range profile (Q9 log2 magnitude).
    pub range_profile: Vec<u16>,
    /// TLV 3 noise profile (Q9 log2 magnitude).
    pub noise_profile: Vec<u16>,
    /// TLV 6.
    pub stats: Option<FrameStats>,
    /// TLV 9.
    pub temperature: Option<TemperatureStats>,
    /// TLVs of other types (heat maps, vendor types), skipped.
    pub skipped_tlvs: u32,
}

/// What the decoder threw away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderStats {
    /// Frames decoded.
    pub frames: u64,
    /// Bytes discarded while looking for a magic word (garbage, remains of cut frames).
    pub skipped_bytes: u64,
    /// Frames that started with a magic word but were cut or inconsistent.
    pub bad_frames: u64,
}

/// Why a frame that started with a magic word was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// `totalPacketLen` shorter than the header or longer than the limit.
    #[error("totalPacketLen {0} bytes is out of range")]
    PacketLen(usize),
    /// A TLV runs past the end of the packet.
    #[error("TLV {index} (type {tlv_type}, {len} bytes) runs past the packet end")]
    TlvOverrun {
        /// TLV index in the frame.
        index: u32,
        /// Its type.
        tlv_type: u32,
        /// Its declared payload length, bytes.
        len: u32,
    },
    /// A known TLV whose length does not fit its type.
    #[error("TLV type {tlv_type}: length {len} bytes does not fit its layout")]
    TlvLayout {
        /// Its type.
        tlv_type: u32,
        /// Its declared payload length, bytes.
        len: u32,
    },
    /// The next frame's magic word inside this frame's TLVs: this frame was cut short.
    #[error("cut frame: a magic word at byte {0} inside the TLVs")]
    Cut(usize),
}

/// A streaming decoder: push bytes, pop frames.
#[derive(Debug)]
pub struct MmwaveDecoder {
    buf: Vec<u8>,
    stats: DecoderStats,
    max_packet_len: usize,
    last_error: Option<FrameError>,
}

impl Default for MmwaveDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PACKET_LEN)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_bits(u32_at(b, at))
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_le_bytes([b[at], b[at + 1]])
}

fn find_magic(b: &[u8], from: usize) -> Option<usize> {
    b.get(from..)?
        .windows(MAGIC.len())
        .position(|w| w == MAGIC)
        .map(|p| p + from)
}

impl MmwaveDecoder {
    /// A decoder refusing declared packets longer than `max_packet_len` bytes.
    pub fn new(max_packet_len: usize) -> Self {
        Self {
            buf: Vec::with_capacity(8192),
            stats: DecoderStats::default(),
            max_packet_len: max_packet_len.max(HEADER_LEN),
            last_error: None,
        }
    }

    /// Appends bytes read from the port.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Counters so far.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Why the last bad frame was rejected.
    pub fn last_error(&self) -> Option<&FrameError> {
        self.last_error.as_ref()
    }

    /// Bytes held waiting for the rest of a frame.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    fn discard(&mut self, n: usize) {
        self.stats.skipped_bytes += n as u64;
        self.buf.drain(..n);
    }

    /// The next complete frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<MmwaveFrame> {
        loop {
            match find_magic(&self.buf, 0) {
                Some(0) => {}
                Some(p) => self.discard(p),
                None => {
                    // keep a possible partial magic word at the end
                    let keep = (MAGIC.len() - 1).min(self.buf.len());
                    self.discard(self.buf.len() - keep);
                    return None;
                }
            }
            if self.buf.len() < HEADER_LEN {
                return None;
            }
            let total = u32_at(&self.buf, 12) as usize;
            if total < HEADER_LEN || total > self.max_packet_len {
                self.reject(FrameError::PacketLen(total));
                continue;
            }
            if self.buf.len() < total {
                // a cut frame followed by a whole one: the next magic word and its header
                // are already here, and its declared end is not past ours: stop waiting
                if let Some(p) = find_magic(&self.buf, 1)
                    && self.buf.len() >= p + HEADER_LEN
                    && p + (u32_at(&self.buf, p + 12) as usize) <= self.buf.len()
                {
                    // only the padding was cut when the TLVs fit before the next frame
                    match parse_frame(&self.buf[..p]) {
                        Ok((frame, _)) => {
                            self.buf.drain(..p);
                            self.stats.frames += 1;
                            return Some(frame);
                        }
                        Err(_) => {
                            self.reject(FrameError::Cut(p));
                            continue;
                        }
                    }
                }
                return None;
            }
            match parse_frame(&self.buf[..total]) {
                Ok((frame, tlv_end)) => {
                    // a magic word in the padding: the padding was cut, the TLVs are whole
                    let next = find_magic(&self.buf[..total], tlv_end.max(1));
                    let consumed = next.unwrap_or(total);
                    self.buf.drain(..consumed);
                    self.stats.frames += 1;
                    return Some(frame);
                }
                Err(e) => self.reject(e),
            }
        }
    }

    /// Marks the frame at the start of the buffer bad and resumes at the next magic word.
    fn reject(&mut self, e: FrameError) {
        self.stats.bad_frames += 1;
        self.last_error = Some(e);
        // without a next magic word, keep a tail that may be the start of one
        let next = find_magic(&self.buf, 1)
            .unwrap_or_else(|| self.buf.len().saturating_sub(MAGIC.len() - 1).max(1));
        self.discard(next.min(self.buf.len()));
    }

    /// End of stream: whatever is still buffered is a cut frame or garbage; counts it.
    pub fn finish(&mut self) -> DecoderStats {
        if find_magic(&self.buf, 0).is_some() {
            self.stats.bad_frames += 1;
        }
        let n = self.buf.len();
        self.discard(n);
        self.stats
    }
}

/// Parses one whole packet (magic word first, `totalPacketLen` bytes). Returns the frame and the
/// end of its last TLV.
pub fn parse_frame(p: &[u8]) -> Result<(MmwaveFrame, usize), FrameError> {
    if p.len() < HEADER_LEN {
        return Err(FrameError::PacketLen(p.len()));
    }
    let mut f = MmwaveFrame {
        version: u32_at(p, 8),
        platform: u32_at(p, 16),
        frame_number: u32_at(p, 20),
        time_cpu_cycles: u32_at(p, 24),
        num_detected_obj: u32_at(p, 28),
        subframe: u32_at(p, 36),
        ..MmwaveFrame::default()
    };
    let num_tlvs = u32_at(p, 32);
    let mut side: Vec<(f32, f32)> = Vec::new();
    let mut at = HEADER_LEN;
    for index in 0..num_tlvs {
        if at + TLV_HEADER_LEN > p.len() {
            return Err(FrameError::TlvOverrun {
                index,
                tlv_type: 0,
                len: 0,
            });
        }
        let tlv_type = u32_at(p, at);
        let len = u32_at(p, at + 4);
        let start = at + TLV_HEADER_LEN;
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= p.len())
            .ok_or(FrameError::TlvOverrun {
                index,
                tlv_type,
                len,
            })?;
        let body = &p[start..end];
        let layout = || FrameError::TlvLayout { tlv_type, len };
        match tlv_type {
            TLV_DETECTED_POINTS => {
                if !body.len().is_multiple_of(16) {
                    return Err(layout());
                }
                f.points = body
                    .chunks_exact(16)
                    .map(|c| DetectedPoint {
                        x_m: f32_at(c, 0),
                        y_m: f32_at(c, 4),
                        z_m: f32_at(c, 8),
                        doppler_mps: f32_at(c, 12),
                        snr_db: None,
                        noise_db: None,
                    })
                    .collect();
            }
            TLV_RANGE_PROFILE | TLV_NOISE_PROFILE => {
                if !body.len().is_multiple_of(2) {
                    return Err(layout());
                }
                let v = body
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                if tlv_type == TLV_RANGE_PROFILE {
                    f.range_profile = v;
                } else {
                    f.noise_profile = v;
                }
            }
            TLV_STATS => {
                if body.len() != 24 {
                    return Err(layout());
                }
                f.stats = Some(FrameStats {
                    inter_frame_processing_time_us: u32_at(body, 0),
                    transmit_output_time_us: u32_at(body, 4),
                    inter_frame_processing_margin_us: u32_at(body, 8),
                    inter_chirp_processing_margin_us: u32_at(body, 12),
                    active_frame_cpu_load_pct: u32_at(body, 16),
                    inter_frame_cpu_load_pct: u32_at(body, 20),
                });
            }
            TLV_SIDE_INFO => {
                if !body.len().is_multiple_of(4) {
                    return Err(layout());
                }
                side = body
                    .chunks_exact(4)
                    .map(|c| (f32::from(i16_at(c, 0)) * 0.1, f32::from(i16_at(c, 2)) * 0.1))
                    .collect();
            }
            TLV_TEMPERATURE => {
                if body.len() != 28 {
                    return Err(layout());
                }
                let mut sensors_c = [0i16; 10];
                for (i, s) in sensors_c.iter_mut().enumerate() {
                    *s = i16_at(body, 8 + 2 * i);
                }
                f.temperature = Some(TemperatureStats {
                    valid: u32_at(body, 0) as i32,
                    time_ms: u32_at(body, 4),
                    sensors_c,
                });
            }
            _ => f.skipped_tlvs += 1,
        }
        at = end;
    }
    // the next frame's magic word anywhere in the header or TLVs: this one was cut short
    if let Some(m) = find_magic(&p[..at], 1) {
        return Err(FrameError::Cut(m));
    }
    if !side.is_empty() {
        if side.len() != f.points.len() {
            return Err(FrameError::TlvLayout {
                tlv_type: TLV_SIDE_INFO,
                len: (side.len() * 4) as u32,
            });
        }
        for (pt, (snr, noise)) in f.points.iter_mut().zip(side) {
            pt.snr_db = Some(snr);
            pt.noise_db = Some(noise);
        }
    }
    Ok((f, at))
}

/// Encodes a frame the way the out-of-box demo sends it (padded to 32 bytes): for tests,
/// fixtures and the UART simulator. SNR and noise go out as TLV 7 when every point has them.
pub fn encode_frame(f: &MmwaveFrame) -> Vec<u8> {
    let mut tlvs: Vec<(u32, Vec<u8>)> = Vec::new();
    if !f.points.is_empty() {
        let mut b = Vec::with_capacity(16 * f.points.len());
        for p in &f.points {
            for v in [p.x_m, p.y_m, p.z_m, p.doppler_mps] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        tlvs.push((TLV_DETECTED_POINTS, b));
    }
    let profile = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    if !f.range_profile.is_empty() {
        tlvs.push((TLV_RANGE_PROFILE, profile(&f.range_profile)));
    }
    if !f.noise_profile.is_empty() {
        tlvs.push((TLV_NOISE_PROFILE, profile(&f.noise_profile)));
    }
    if let Some(s) = f.stats {
        let v = [
            s.inter_frame_processing_time_us,
            s.transmit_output_time_us,
            s.inter_frame_processing_margin_us,
            s.inter_chirp_processing_margin_us,
            s.active_frame_cpu_load_pct,
            s.inter_frame_cpu_load_pct,
        ];
        tlvs.push((TLV_STATS, v.iter().flat_map(|x| x.to_le_bytes()).collect()));
    }
    if !f.points.is_empty() && f.points.iter().all(|p| p.snr_db.is_some()) {
        let q = |v: Option<f32>| ((v.unwrap_or(0.0) * 10.0).round() as i16).to_le_bytes();
        let b = f
            .points
            .iter()
            .flat_map(|p| {
                let (s, n) = (q(p.snr_db), q(p.noise_db));
                [s[0], s[1], n[0], n[1]]
            })
            .collect();
        tlvs.push((TLV_SIDE_INFO, b));
    }
    if let Some(t) = f.temperature {
        let mut b = Vec::with_capacity(28);
        b.extend_from_slice(&t.valid.to_le_bytes());
        b.extend_from_slice(&t.time_ms.to_le_bytes());
        for s in t.sensors_c {
            b.extend_from_slice(&s.to_le_bytes());
        }
        tlvs.push((TLV_TEMPERATURE, b));
    }
    let body: usize = tlvs.iter().map(|(_, b)| TLV_HEADER_LEN + b.len()).sum();
    let total = (HEADER_LEN + body).div_ceil(32) * 32;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    for v in [
        f.version,
        total as u32,
        f.platform,
        f.frame_number,
        f.time_cpu_cycles,
        f.points.len() as u32,
        tlvs.len() as u32,
        f.subframe,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (t, b) in &tlvs {
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    }
    out.resize(total, 0);
    out
}

/// Unwraps the radar's 32-bit cycle counter into device nanoseconds.
#[derive(Debug, Clone)]
pub struct CycleClock {
    cpu_hz: f64,
    last: Option<u32>,
    cycles: u64,
}

impl CycleClock {
    /// A clock counting at `cpu_hz` Hz.
    pub fn new(cpu_hz: f64) -> Self {
        Self {
            cpu_hz,
            last: None,
            cycles: 0,
        }
    }

    /// The counter frequency, Hz.
    pub fn cpu_hz(&self) -> f64 {
        self.cpu_hz
    }

    /// Device time of the counter reading `c`, ns since the first reading. Assumes readings
    /// less than one wrap (2^32 cycles: 21.5 s at 200 MHz) apart.
    pub fn device_ns(&mut self, c: u32) -> i64 {
        if let Some(last) = self.last {
            self.cycles += u64::from(c.wrapping_sub(last));
        }
        self.last = Some(c);
        (self.cycles as f64 * 1e9 / self.cpu_hz).round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(n: u32, points: usize) -> MmwaveFrame {
        MmwaveFrame {
            version: 0x0306_0000,
            platform: 0xA6843,
            frame_number: n,
            time_cpu_cycles: n.wrapping_mul(20_000_000),
            num_detected_obj: points as u32,
            subframe: 0,
            points: (0..points)
                .map(|i| DetectedPoint {
                    x_m: i as f32 * 0.5 - 1.0,
                    y_m: 10.0 + i as f32,
                    z_m: 0.25,
                    doppler_mps: -1.5,
                    snr_db: Some(12.3),
                    noise_db: Some(4.5),
                })
                .collect(),
            range_profile: vec![100, 200, 300],
            noise_profile: vec![7, 8, 9],
            stats: Some(FrameStats {
                inter_frame_processing_time_us: 1234,
                transmit_output_time_us: 567,
                ..FrameStats::default()
            }),
            temperature: Some(TemperatureStats {
                valid: 0,
                time_ms: 99,
                sensors_c: [40, 41, 42, 43, 44, 45, 46, 47, 48, 49],
            }),
            skipped_tlvs: 0,
        }
    }

    fn decode_all(bytes: &[u8], piece: usize) -> (Vec<MmwaveFrame>, DecoderStats) {
        let mut d = MmwaveDecoder::default();
        let mut out = Vec::new();
        for c in bytes.chunks(piece.max(1)) {
            d.push(c);
            while let Some(f) = d.next_frame() {
                out.push(f);
            }
        }
        let s = d.finish();
        (out, s)
    }

    #[test]
    fn round_trips_every_tlv() {
        let f = frame(7, 3);
        let bytes = encode_frame(&f);
        assert_eq!(bytes.len() % 32, 0);
        let (got, stats) = decode_all(&bytes, 5);
        assert_eq!(got.len(), 1);
        let g = &got[0];
        assert_eq!(g.frame_number, 7);
        assert_eq!(g.points.len(), 3);
        assert_eq!(g.points[1].y_m, 11.0);
        assert!((g.points[1].snr_db.expect("snr") - 12.3).abs() < 1e-5);
        assert_eq!(g.range_profile, vec![100, 200, 300]);
        assert_eq!(g.noise_profile, vec![7, 8, 9]);
        assert_eq!(g.stats, f.stats);
        assert_eq!(g.temperature, f.temperature);
        assert_eq!(stats.skipped_bytes, 0);
        assert_eq!(stats.bad_frames, 0);
    }

    #[test]
    fn resyncs_after_garbage_and_a_cut_frame() {
        let mut s = b"garbage!".to_vec();
        s.extend(encode_frame(&frame(1, 2)));
        let cut = encode_frame(&frame(2, 4));
        s.extend(&cut[..cut.len() / 2]);
        s.extend(encode_frame(&frame(3, 1)));
        s.extend([0xAA; 13]);
        s.extend(encode_frame(&frame(4, 0)));
        let (got, stats) = decode_all(&s, 64);
        let ids: Vec<u32> = got.iter().map(|f| f.frame_number).collect();
        assert_eq!(ids, vec![1, 3, 4]);
        assert_eq!(stats.bad_frames, 1);
        assert_eq!(stats.skipped_bytes, 8 + (cut.len() / 2) as u64 + 13);
    }

    #[test]
    fn rejects_overlong_and_inconsistent_lengths() {
        let mut b = encode_frame(&frame(1, 2));
        b[12..16].copy_from_slice(&(u32::MAX).to_le_bytes());
        let (got, stats) = decode_all(&b, 1000);
        assert!(got.is_empty());
        assert_eq!(stats.bad_frames, 1);
        let mut b = encode_frame(&frame(1, 2));
        // first TLV's length beyond the packet
        b[44..48].copy_from_slice(&10_000u32.to_le_bytes());
        let (got, _) = decode_all(&b, 1000);
        assert!(got.is_empty());
    }

    #[test]
    fn cycle_clock_unwraps() {
        let mut c = CycleClock::new(200e6);
        assert_eq!(c.device_ns(u32::MAX - 99), 0);
        assert_eq!(c.device_ns(100), 1000); // 200 cycles at 200 MHz = 1 µs
    }

    proptest! {
        #[test]
        fn never_panics_and_accounts_for_every_byte(
            junk in proptest::collection::vec(any::<u8>(), 0..600),
            at in 0usize..600,
            piece in 1usize..97,
        ) {
            let mut s = encode_frame(&frame(1, 2));
            let at = at.min(s.len());
            s.splice(at..at, junk.iter().copied());
            s.extend(encode_frame(&frame(2, 1)));
            let (got, stats) = decode_all(&s, piece);
            // the intact last frame always survives
            prop_assert_eq!(got.last().map(|f| f.frame_number), Some(2));
            prop_assert!(stats.frames as usize == got.len());
        }

        #[test]
        fn whole_frames_decode_in_any_pieces(n in 0usize..20, piece in 1usize..200) {
            let s: Vec<u8> = (0..5).flat_map(|i| encode_frame(&frame(i, n))).collect();
            let (got, stats) = decode_all(&s, piece);
            prop_assert_eq!(got.len(), 5);
            prop_assert_eq!(stats.skipped_bytes, 0);
        }
    }
}
