//! Topic names and the message type each one carries.

use crate::{DESCRIPTOR_SET, Error, Result, proto};

/// Topic of [`proto::CameraFrame`].
pub const CAMERA_FRAME: &str = "/camera/frame";
/// Topic of [`proto::CameraLatch`].
pub const CAMERA_LATCH: &str = "/camera/latch";
/// Topic of [`proto::CameraDetections`].
pub const CAMERA_DETECTIONS: &str = "/camera/detections";
/// Topic of [`proto::RadarFrame`].
pub const RADAR_FRAME: &str = "/radar/frame";
/// Topic of [`proto::PtpStatus`].
pub const PTP_STATUS: &str = "/ptp/status";
/// Topic of [`proto::NodeStats`].
pub const NODE_STATS: &str = "/node/stats";
/// Topic of [`proto::AuditEvent`].
pub const AUDIT: &str = "/audit";
/// Topic of [`proto::TruthObjects`].
pub const TRUTH_OBJECTS: &str = "/truth/objects";
/// Topic of [`proto::TruthClock`].
pub const TRUTH_CLOCK: &str = "/truth/clock";

/// Everything needed to register one MCAP channel: topic, schema and encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Topic name.
    pub topic: &'static str,
    /// Fully qualified protobuf message name, used as the MCAP schema name.
    pub schema_name: String,
    /// MCAP schema encoding (`protobuf`).
    pub schema_encoding: &'static str,
    /// MCAP schema data (an encoded FileDescriptorSet).
    pub schema_data: Vec<u8>,
    /// MCAP message encoding (`protobuf`).
    pub message_encoding: &'static str,
}

/// A radcam contract message bound to its topic.
pub trait TopicMessage: prost::Message + Default + Sized {
    /// The topic this message type is published on.
    const TOPIC: &'static str;
    /// Fully qualified protobuf name (`radcam.CameraFrame`).
    const SCHEMA_NAME: &'static str;

    /// The channel registration for this type.
    fn channel_spec() -> ChannelSpec {
        ChannelSpec {
            topic: Self::TOPIC,
            schema_name: Self::SCHEMA_NAME.to_owned(),
            schema_encoding: "protobuf",
            schema_data: DESCRIPTOR_SET.to_vec(),
            message_encoding: "protobuf",
        }
    }

    /// Decodes `bytes` into `self`, cleared first, by a direct path of this type's own where
    /// it has one and the bytes take the shape it reads; `None` otherwise, and prost decodes
    /// them (see [`decode_into`]).
    fn merge_direct(&mut self, _bytes: &[u8]) -> Option<()> {
        None
    }
}

/// Decodes a message of type `T` from the bytes of one MCAP message.
pub fn decode<T: TopicMessage>(bytes: &[u8]) -> Result<T> {
    let mut msg = T::default();
    decode_into(bytes, &mut msg)?;
    Ok(msg)
}

/// As [`decode`], into `msg`, whose repeated fields keep their capacity: a reader of many
/// messages of one type decodes them without growing their lists each time. On an error
/// `msg` holds part of the message.
///
/// A type with a direct path ([`TopicMessage::merge_direct`]: radar frames, truth objects,
/// the fusion view of detections) reads the usual shape of its bytes by it; everything
/// else, and whatever the direct path declines, is prost's to decode and to reject.
pub fn decode_into<T: TopicMessage>(bytes: &[u8], msg: &mut T) -> Result<()> {
    if msg.merge_direct(bytes).is_some() {
        return Ok(());
    }
    msg.clear();
    msg.merge(bytes).map_err(decode_error::<T>)
}

fn decode_error<T: TopicMessage>(source: prost::DecodeError) -> Error {
    Error::Decode {
        topic: T::TOPIC,
        schema: T::SCHEMA_NAME,
        source,
    }
}

macro_rules! bind {
    ($($ty:ident => $topic:ident $(, direct $direct:path)?);* $(;)?) => {
        $(impl TopicMessage for proto::$ty {
            const TOPIC: &'static str = $topic;
            const SCHEMA_NAME: &'static str = concat!("radcam.", stringify!($ty));
            $(fn merge_direct(&mut self, bytes: &[u8]) -> Option<()> {
                $direct(bytes, self)
            })?
        })*
        /// Channel registrations of every radcam (non-Foxglove) topic, in contract order.
        pub fn radcam_channels() -> Vec<ChannelSpec> {
            vec![$(<proto::$ty as TopicMessage>::channel_spec()),*]
        }
    };
}

bind! {
    CameraFrame => CAMERA_FRAME;
    CameraLatch => CAMERA_LATCH;
    CameraDetections => CAMERA_DETECTIONS;
    RadarFrame => RADAR_FRAME, direct crate::radar_wire::merge_radar_frame;
    PtpStatus => PTP_STATUS;
    NodeStats => NODE_STATS;
    AuditEvent => AUDIT;
    TruthObjects => TRUTH_OBJECTS, direct crate::truth_wire::merge_truth_objects;
    TruthClock => TRUTH_CLOCK;
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn round_trip<T: TopicMessage + PartialEq + std::fmt::Debug>(msg: T) {
        let bytes = msg.encode_to_vec();
        let back: T = decode(&bytes).expect("decodes");
        assert_eq!(back, msg, "{} round trip", T::TOPIC);
    }

    #[test]
    fn decoding_into_a_used_message_leaves_nothing_of_the_last_one() {
        let point = |x_m| proto::RadarPoint {
            x_m,
            snr_db: 20.0,
            ..Default::default()
        };
        let long = proto::RadarFrame {
            radar_frame_id: 1,
            cpu_hz: 200e6,
            points: (0..64).map(|i| point(i as f32)).collect(),
            transmit_output_time_us: 9,
            ..Default::default()
        };
        let short = proto::RadarFrame {
            radar_frame_id: 2,
            points: vec![point(-1.0)],
            ..Default::default()
        };
        let mut msg = proto::RadarFrame::default();
        decode_into(&long.encode_to_vec(), &mut msg).expect("long");
        assert_eq!(msg, long);
        decode_into(&short.encode_to_vec(), &mut msg).expect("short");
        assert_eq!(
            msg, short,
            "fields absent from the short frame are back to default"
        );
        assert!(msg.points.capacity() >= 64, "the list kept its capacity");
        assert!(decode_into(&[0xff, 0xff], &mut msg).is_err());
    }

    #[test]
    fn every_message_type_round_trips() {
        round_trip(proto::CameraFrame {
            frame_id: 7,
            device_ns: 12_345_678_901,
            device_ticks: 12_345_678_901,
            tick_hz: 1e9,
            host_arrival_ns: 99_000_000_123,
            exposure_us: 4000.0,
            timestamp_marks: proto::FrameInstant::ExposureStart as i32,
            width_px: 1440,
            height_px: 1080,
            aravis_system_ns: 1_795_000_000_000_000_000,
        });
        round_trip(proto::CameraLatch {
            seq: 3,
            host_before_ns: 10,
            device_ns: -20,
            host_after_ns: 30,
            host_after_read_ns: 40,
            device_ticks: 20,
            tick_hz: 1e9,
            burst_index: 2,
        });
        round_trip(proto::CameraDetections {
            frame_id: 7,
            device_ns: 1,
            host_ns: 2,
            detections: vec![
                proto::Detection {
                    x_px: 1.5,
                    y_px: 2.5,
                    width_px: 30.0,
                    height_px: 40.0,
                    class_name: "car".into(),
                    score: 0.9,
                    object_id: Some(4),
                },
                proto::Detection {
                    class_name: "pedestrian".into(),
                    object_id: None,
                    ..Default::default()
                },
            ],
        });
        round_trip(proto::RadarFrame {
            radar_frame_id: 11,
            time_cpu_cycles: u32::MAX,
            cpu_hz: 200e6,
            device_ns: 5,
            host_arrival_ns: 6,
            subframe: 0,
            points: vec![proto::RadarPoint {
                x_m: 1.0,
                y_m: 20.0,
                z_m: 0.5,
                doppler_mps: -3.0,
                snr_db: 18.0,
                noise_db: 60.0,
                range_m: 20.03,
                azimuth_rad: 0.05,
                elevation_rad: 0.02,
            }],
            inter_frame_processing_time_us: 3500,
            transmit_output_time_us: 400,
        });
        round_trip(proto::PtpStatus {
            host_query_ns: 1,
            master_offset_ns: -42,
            ingress_time_ns: 3,
            path_delay_ns: 5100.5,
            freq_ppb: -1200.0,
            port_state: "SLAVE".into(),
            gm_present: true,
            gm_identity: "001122.fffe.334455".into(),
        });
        round_trip(proto::NodeStats {
            host_ns: 1,
            queues: vec![proto::QueueDepth {
                name: "camera".into(),
                depth: 2,
                capacity: 8,
            }],
            drops: vec![proto::DropCounter {
                name: "radar".into(),
                count: 1,
            }],
            temperatures: vec![proto::Temperature {
                zone: "cpu".into(),
                temperature_c: 51.5,
            }],
            cpu_load_pct: 37.0,
        });
        round_trip(proto::AuditEvent {
            event_id: 1,
            event_ts_ns: 2,
            kind: "CAL_UPDATED".into(),
            old_state: "0".into(),
            new_state: "1".into(),
            cal_version: 1,
            config_version: 1,
            detail: "initial".into(),
        });
        round_trip(proto::TruthObjects {
            host_ns: 1,
            frame_id: 2,
            objects: vec![proto::TruthObject {
                object_id: 1,
                class_name: "car".into(),
                x_m: 20.0,
                y_m: -1.0,
                z_m: 0.75,
                vx_mps: -5.0,
                vy_mps: 0.0,
                length_m: 4.5,
                width_m: 1.8,
                height_m: 1.5,
            }],
        });
        round_trip(proto::TruthClock {
            host_ns: 1,
            frame_id: 2,
            camera_device_ns: 3,
            radar_device_ns: 4,
            camera_offset_ns: 5,
            camera_rate_ppm: 12.5,
            radar_rate_ppm: -3.0,
            temperature_c: 40.0,
            ptp_offset_ns: 25.0,
        });
    }

    #[test]
    fn garbage_is_a_decode_error_naming_the_topic() {
        let err = decode::<proto::CameraFrame>(&[0xff, 0xff, 0xff]).expect_err("garbage");
        assert!(err.to_string().contains(CAMERA_FRAME), "{err}");
    }

    #[test]
    fn schema_names_exist_in_the_descriptor_set() {
        let fds = prost_types::FileDescriptorSet::decode(DESCRIPTOR_SET).expect("fds");
        let names: Vec<String> = fds
            .file
            .iter()
            .flat_map(|f| {
                let pkg = f.package().to_owned();
                f.message_type
                    .iter()
                    .map(move |m| format!("{pkg}.{}", m.name()))
            })
            .collect();
        for spec in radcam_channels() {
            assert!(
                names.contains(&spec.schema_name),
                "{} missing",
                spec.schema_name
            );
        }
    }
}
