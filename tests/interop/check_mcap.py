#!/usr/bin/env python3
"""Interop check: the stock Python `mcap` reader with `mcap-protobuf-support` decodes every
channel of a radcam recording, and the fields later checks rely on are present.

usage: check_mcap.py REC.mcap
"""
import sys

from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory

# topic -> fields that must exist on the decoded message (the topic contract)
REQUIRED = {
    "/camera/frame": ["frame_id", "device_ns", "tick_hz", "host_arrival_ns", "exposure_us", "timestamp_marks"],
    "/camera/latch": ["host_before_ns", "device_ns", "host_after_ns", "host_after_read_ns", "seq"],
    "/camera/detections": ["frame_id", "detections"],
    "/radar/frame": ["radar_frame_id", "device_ns", "host_arrival_ns", "points"],
    "/ptp/status": ["master_offset_ns", "path_delay_ns", "freq_ppb", "port_state", "gm_present", "gm_identity", "host_query_ns"],
    "/node/stats": ["queues", "drops", "temperatures"],
    "/audit": ["event_id", "event_ts_ns", "kind", "old_state", "new_state", "cal_version", "config_version"],
    "/truth/objects": ["host_ns", "objects"],
    "/truth/clock": ["host_ns", "camera_device_ns"],
    "/camera/image": ["width", "height", "encoding", "data"],
    "/camera/annotations": ["points"],
    "/radar/points": ["fields", "data", "point_stride"],
}
RADAR_POINT_FIELDS = ["x_m", "y_m", "z_m", "doppler_mps", "snr_db", "noise_db", "range_m", "azimuth_rad", "elevation_rad"]


def main(path):
    counts = {}
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        topics = {c.topic for c in summary.channels.values()}
        missing = set(REQUIRED) - topics
        if missing:
            raise SystemExit(f"{path}: channels missing: {sorted(missing)}")
        for schema, channel, message, decoded in reader.iter_decoded_messages():
            n = counts.get(channel.topic, 0)
            counts[channel.topic] = n + 1
            if n == 0:
                for field in REQUIRED.get(channel.topic, []):
                    if not hasattr(decoded, field):
                        raise SystemExit(f"{channel.topic}: decoded {schema.name} lacks '{field}'")
            if channel.topic == "/radar/frame" and decoded.points and n == 0:
                for field in RADAR_POINT_FIELDS:
                    if not hasattr(decoded.points[0], field):
                        raise SystemExit(f"/radar/frame point lacks '{field}'")
        meta = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    for topic in REQUIRED:
        if counts.get(topic, 0) == 0:
            raise SystemExit(f"{path}: no message decoded on {topic}")
    for name in ("radcam.recording", "radcam.calibration", "radcam.scenario"):
        if name not in meta:
            raise SystemExit(f"{path}: metadata record {name} missing")
    total = sum(counts.values())
    print(f"mcap interop: decoded {total} messages on {len(counts)} channels of {path}")
    for topic in sorted(counts):
        print(f"  {topic:<22} {counts[topic]}")


if __name__ == "__main__":
    main(sys.argv[1])
