//! A direct decoder of `/radar/frame` messages, beside prost's.
//!
//! Radar points are most of what a replay decodes (an hour of the demo rig holds 6.5 M of
//! them), and prost's general decoder spends about 390 instructions on a point, some 45 on
//! each of its nine 4-byte floats: its key, wire-type and length checks run through the `Buf`
//! trait once per field. This decoder reads the same wire format in one pass over the bytes
//! (about 100 instructions a point, its push onto the list included), for messages of the
//! shape the recorder writes: every field one the contract defines, with the contract's wire
//! type, and well formed. For anything else (an unknown field, a wrong wire type, a bad
//! varint, a length past the end) it declines, and the caller decodes with prost, which skips
//! what it may and reports what is broken. So prost stays the one authority on what a message
//! means; a test holds this decoder to prost's result on arbitrary and damaged bytes.
//!
//! A field added to `RadarFrame` or `RadarPoint` in the `.proto` makes this decoder decline
//! every message that carries it (correct, only slower) and breaks the build of the test
//! that lists every field, as a reminder to add it here.

use crate::proto::{RadarFrame, RadarPoint};
use crate::wire::Wire;

/// Decodes `bytes` into `frame`, cleared first (its point list keeps its capacity), when the
/// bytes take the contract's shape; `None` when they do not, with `frame` holding part of the
/// message, for prost to decode instead.
pub(crate) fn merge_radar_frame(bytes: &[u8], frame: &mut RadarFrame) -> Option<()> {
    frame.points.clear();
    *frame = RadarFrame {
        points: std::mem::take(&mut frame.points),
        ..RadarFrame::default()
    };
    let mut r = Wire(bytes);
    while !r.0.is_empty() {
        // keys of fields 1..=15 are one byte: field number << 3 | wire type
        match r.byte()? {
            0x08 => frame.radar_frame_id = r.varint()?,
            0x10 => frame.time_cpu_cycles = r.varint()? as u32,
            0x19 => frame.cpu_hz = f64::from_le_bytes(r.fixed()?),
            0x20 => frame.device_ns = r.varint()? as i64,
            0x28 => frame.host_arrival_ns = r.varint()? as i64,
            0x30 => frame.subframe = r.varint()? as u32,
            0x3a => {
                frame.points.push(radar_point(r.delimited()?)?);
            }
            0x40 => frame.inter_frame_processing_time_us = r.varint()? as u32,
            0x48 => frame.transmit_output_time_us = r.varint()? as u32,
            _ => return None,
        }
    }
    Some(())
}

/// Keys of a point's nine fields, in field order: `field << 3 | 5` (a 4-byte float each).
const POINT_KEYS: [u8; 9] = [0x0d, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d];

/// One point's fields. A point with every field set, in field order (as prost writes it
/// unless a value is 0.0), is read at fixed offsets; any other, field by field.
fn radar_point(bytes: &[u8]) -> Option<RadarPoint> {
    if let Ok(b) = <&[u8; 45]>::try_from(bytes)
        && (0..9).all(|i| b[5 * i] == POINT_KEYS[i])
    {
        let f = |i: usize| {
            let at = 5 * i + 1;
            f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
        };
        return Some(RadarPoint {
            x_m: f(0),
            y_m: f(1),
            z_m: f(2),
            doppler_mps: f(3),
            snr_db: f(4),
            noise_db: f(5),
            range_m: f(6),
            azimuth_rad: f(7),
            elevation_rad: f(8),
        });
    }
    let mut p = RadarPoint::default();
    let mut r = Wire(bytes);
    while !r.0.is_empty() {
        let key = r.byte()?;
        let v = f32::from_le_bytes(r.fixed()?);
        match key {
            // keys as in `POINT_KEYS`
            0x0d => p.x_m = v,
            0x15 => p.y_m = v,
            0x1d => p.z_m = v,
            0x25 => p.doppler_mps = v,
            0x2d => p.snr_db = v,
            0x35 => p.noise_db = v,
            0x3d => p.range_m = v,
            0x45 => p.azimuth_rad = v,
            0x4d => p.elevation_rad = v,
            _ => return None,
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checks::{damage, declined_or_read_as_prost, same};
    use proptest::prelude::*;
    use prost::Message;

    /// prost's own decoding.
    fn by_prost(bytes: &[u8]) -> Result<RadarFrame, prost::DecodeError> {
        RadarFrame::decode(bytes)
    }

    fn point() -> impl Strategy<Value = RadarPoint> {
        let f = || {
            prop_oneof![
                any::<f32>(),
                Just(0.0f32),
                any::<u32>().prop_map(f32::from_bits)
            ]
        };
        ((f(), f(), f(), f(), f()), (f(), f(), f(), f())).prop_map(
            |((a, b, c, d, e), (g, h, i, j))| {
                // every field by name, no `..Default::default()`: a field added to the
                // .proto stops this compiling until the decoder above reads it too
                RadarPoint {
                    x_m: a,
                    y_m: b,
                    z_m: c,
                    doppler_mps: d,
                    snr_db: e,
                    noise_db: g,
                    range_m: h,
                    azimuth_rad: i,
                    elevation_rad: j,
                }
            },
        )
    }

    fn frame() -> impl Strategy<Value = RadarFrame> {
        (
            (
                any::<u64>(),
                any::<u32>(),
                any::<f64>(),
                any::<i64>(),
                any::<i64>(),
            ),
            (any::<u32>(), prop::collection::vec(point(), 0..80)),
            (any::<u32>(), any::<u32>()),
        )
            .prop_map(
                |((id, cyc, hz, dev, host), (sub, points), (ifp, tx))| RadarFrame {
                    radar_frame_id: id,
                    time_cpu_cycles: cyc,
                    cpu_hz: hz,
                    device_ns: dev,
                    host_arrival_ns: host,
                    subframe: sub,
                    points,
                    inter_frame_processing_time_us: ifp,
                    transmit_output_time_us: tx,
                },
            )
    }

    proptest! {
        /// Everything the recorder can write takes the direct path, and reads as prost
        /// reads it.
        #[test]
        fn written_frames_decode_directly_as_prost_decodes_them(f in frame()) {
            let bytes = f.encode_to_vec();
            let mut direct = RadarFrame::default();
            prop_assert!(merge_radar_frame(&bytes, &mut direct).is_some());
            prop_assert!(same(&direct, &f));
            prop_assert!(same(&direct, &by_prost(&bytes).expect("prost decodes it")));
        }

        /// On damaged bytes the direct path either declines or agrees with prost.
        #[test]
        fn damaged_frames_are_declined_or_read_as_prost_reads_them(f in frame(), d in damage()) {
            declined_or_read_as_prost(&d.apply(f.encode_to_vec()), merge_radar_frame)?;
        }

        /// Arbitrary bytes, the same promise.
        #[test]
        fn arbitrary_bytes_are_declined_or_read_as_prost_reads_them(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            declined_or_read_as_prost(&bytes, merge_radar_frame)?;
        }
    }

    #[test]
    fn what_it_declines_and_what_prost_then_makes_of_it() {
        let f = RadarFrame {
            radar_frame_id: 3,
            ..RadarFrame::default()
        };
        let mut bytes = f.encode_to_vec();
        // an unknown field 20 (varint): prost skips it, the direct path declines
        bytes.extend([0xa0, 0x01, 0x05]);
        let mut direct = RadarFrame::default();
        assert!(merge_radar_frame(&bytes, &mut direct).is_none());
        assert_eq!(by_prost(&bytes).expect("skipped"), f);
        // a full point whose last field is an unknown field 10: prost skips it
        let full = RadarPoint {
            x_m: 1.0,
            y_m: 2.0,
            z_m: 3.0,
            doppler_mps: 4.0,
            snr_db: 5.0,
            noise_db: 6.0,
            range_m: 7.0,
            azimuth_rad: 8.0,
            elevation_rad: 9.0,
        };
        let mut bytes = RadarFrame {
            points: vec![full],
            ..RadarFrame::default()
        }
        .encode_to_vec();
        assert_eq!(bytes.len(), 2 + 45, "one point of nine fields");
        assert!(merge_radar_frame(&bytes, &mut direct).is_some());
        assert_eq!(direct.points, [full]);
        bytes[2 + 40] = 0x55;
        assert!(merge_radar_frame(&bytes, &mut direct).is_none());
        let skipped = by_prost(&bytes).expect("skipped");
        assert_eq!(skipped.points[0].elevation_rad, 0.0);
        // a varint with an 11th byte
        let long = [
            0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
        ];
        assert!(merge_radar_frame(&long, &mut direct).is_none());
        assert!(by_prost(&long).is_err());
        // a 10th byte over 1 overflows 64 bits
        let over = [
            0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
        ];
        assert!(merge_radar_frame(&over, &mut direct).is_none());
        assert!(by_prost(&over).is_err());
        // a 10-byte varint ending in 1 is u64's top bit: both read it
        let top = [
            0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
        ];
        assert!(merge_radar_frame(&top, &mut direct).is_some());
        assert_eq!(direct.radar_frame_id, 1 << 63);
        assert_eq!(by_prost(&top).expect("valid").radar_frame_id, 1 << 63);
    }
}
