#!/usr/bin/env python3
"""Interop check: pyarrow reads radcam's gates.parquet (columns, verdicts, key-value metadata),
sync.parquet, audit.parquet, windows.parquet and the fusion tables (tracks, associations,
ground_truth, tracking); DuckDB queries windows.parquet and gates.parquet and reads their
key-value metadata.

usage: check_parquet.py REPORT_DIR
"""
import os
import sys

import pyarrow.parquet as pq

COLUMNS = ["gate", "metric", "comparator", "threshold", "value", "samples", "verdict", "min_samples", "required",
           "worst_window_start_ns", "worst_window_end_ns", "worst_window_value", "window_s"]
METADATA = ["tool_version", "recording_content_hash", "recording_start_ns", "scenario_hash", "seed", "fault_plan", "estimator",
            "cal_version", "config_version"]


SYNC_COLUMNS = ["frame_id", "device_ns", "host_ns", "uncertainty_ns", "sync_state", "sync_epoch_id", "true_error_ns",
                "timestamp_source", "cal_version", "config_version", "clock_id", "ptp_offset_ns_bucket", "event_seq"]
AUDIT_COLUMNS = ["event_id", "event_ts_ns", "kind", "old_state", "new_state", "cal_version", "config_version", "detail"]


def check_sync_and_audit(report_dir):
    sync = pq.read_table(os.path.join(report_dir, "sync.parquet"))
    if sync.column_names != SYNC_COLUMNS:
        raise SystemExit(f"sync.parquet: columns {sync.column_names} != {SYNC_COLUMNS}")
    states = set(sync.column("sync_state").to_pylist())
    if not states <= {"LOCKED", "DEGRADED", "HOLDOVER", "FREERUN", "RESYNCING"} or "LOCKED" not in states:
        raise SystemExit(f"sync.parquet: unexpected states {states}")
    seq = sync.column("event_seq").to_pylist()
    if seq != sorted(seq) or len(set(seq)) != len(seq):
        raise SystemExit("sync.parquet: event_seq is not strictly increasing")
    audit = pq.read_table(os.path.join(report_dir, "audit.parquet"))
    if audit.column_names != AUDIT_COLUMNS:
        raise SystemExit(f"audit.parquet: columns {audit.column_names} != {AUDIT_COLUMNS}")
    print(f"parquet interop: sync.parquet {sync.num_rows} rows, states {sorted(states)}; "
          f"audit.parquet {audit.num_rows} events")


PROVENANCE = ["sync_state", "timestamp_source", "cal_version", "config_version", "clock_id", "ptp_offset_ns_bucket",
              "event_seq"]
TRACKS_COLUMNS = ["t_ns", "frame_id", "track_id", "x_m", "y_m", "vx_mps", "vy_mps", "confidence", "frozen"] + PROVENANCE
ASSOCIATIONS_COLUMNS = ["t_ns", "frame_id", "detection_index", "camera_object_id", "score", "radar_object_index",
                        "residual_px", "margin_px", "projection_sigma_px", "radar_range_m", "radar_doppler_mps",
                        "camera_radial_mps", "velocity_tolerance_mps", "radar_snr_db", "position_gate",
                        "velocity_gate", "confidence_gate", "outcome"] + PROVENANCE
GROUND_TRUTH_COLUMNS = ["t_ns", "frame_id", "object_id", "class_name", "x_m", "y_m", "vx_mps", "vy_mps"]
FRAMES_COLUMNS = ["frame_id", "t_ns", "arrival_ns", "detections_ns", "ready_ns", "t_fuse_start_ns", "t_fuse_end_ns",
                  "t_tx_ns", "frame_queue_depth", "latency_camera_ms",
                  "latency_detector_ms", "latency_e2e_ms", "detections", "associated", "fused_objects",
                  "radar_objects_in_view", "radar_objects_unmatched", "temperature_c", "cpu_load_pct"] + PROVENANCE
TRACKING_COLUMNS = ["num_switches", "num_matches", "num_misses", "num_false_positives", "num_objects",
                    "num_predictions", "num_frames", "mota", "idf1", "idtp", "match_threshold_m"]


def check_fusion_tables(report_dir):
    tables = {}
    for name, cols in [("tracks", TRACKS_COLUMNS), ("associations", ASSOCIATIONS_COLUMNS),
                       ("ground_truth", GROUND_TRUTH_COLUMNS), ("tracking", TRACKING_COLUMNS),
                       ("frames", FRAMES_COLUMNS)]:
        t = pq.read_table(os.path.join(report_dir, f"{name}.parquet"))
        if t.column_names != cols:
            raise SystemExit(f"{name}.parquet: columns {t.column_names} != {cols}")
        tables[name] = t
    outcomes = set(tables["associations"].column("outcome").to_pylist())
    if not outcomes <= {"assigned", "not_assigned", "no_candidate"} or "assigned" not in outcomes:
        raise SystemExit(f"associations.parquet: unexpected outcomes {outcomes}")
    frames = tables["frames"].to_pydict()
    for t, a, d, r, fs, fe, tx in zip(frames["t_ns"], frames["arrival_ns"], frames["detections_ns"],
                                      frames["ready_ns"], frames["t_fuse_start_ns"], frames["t_fuse_end_ns"],
                                      frames["t_tx_ns"]):
        stages = [x for x in (t, a, d, r, fs, fe, tx) if x is not None]
        if not (t < a) or stages != sorted(stages):
            raise SystemExit(f"frames.parquet: times out of order: exposure {t}, arrival {a}, detections {d}, "
                             f"ready {r}, fusion {fs}..{fe}, tx {tx}")
    cal = set(tables["tracks"].column("cal_version").to_pylist())
    if len(cal) != 1:
        raise SystemExit(f"tracks.parquet: cal_version should be one value, got {cal}")
    print(f"parquet interop: tracks {tables['tracks'].num_rows} rows, associations "
          f"{tables['associations'].num_rows} rows, ground_truth {tables['ground_truth'].num_rows} rows, "
          f"tracking {tables['tracking'].to_pylist()[0]['num_switches']} switches")


WINDOWS_COLUMNS = ["window_start_ns", "window_end_ns", "metric", "value", "samples"]


def check_windows_and_duckdb(report_dir, min_e2e_samples):
    import duckdb

    windows = os.path.join(report_dir, "windows.parquet")
    t = pq.read_table(windows)
    if t.column_names != WINDOWS_COLUMNS:
        raise SystemExit(f"windows.parquet: columns {t.column_names} != {WINDOWS_COLUMNS}")
    con = duckdb.connect()
    worst = con.execute(
        "SELECT window_start_ns, value FROM read_parquet(?) WHERE metric = 'sync_error_us.p999' "
        "ORDER BY value DESC, window_start_ns LIMIT 1", [windows]).fetchone()
    gates = os.path.join(report_dir, "gates.parquet")
    evidence = con.execute(
        "SELECT worst_window_start_ns, worst_window_value FROM read_parquet(?) WHERE gate = 'sync_p999'",
        [gates]).fetchone()
    # the gate's evidence is the worst window of windows.parquet, as DuckDB sees both files
    if worst is None or evidence is None or worst[0] != evidence[0] or abs(worst[1] - evidence[1]) > 1e-9:
        raise SystemExit(f"duckdb: worst sync window {worst} != gate evidence {evidence}")
    kv = dict(con.execute("SELECT decode(key), decode(value) FROM parquet_kv_metadata(?)", [windows]).fetchall())
    missing = [k for k in METADATA if k not in kv]
    if missing:
        raise SystemExit(f"duckdb: windows.parquet key-value metadata missing {missing}")
    frames = os.path.join(report_dir, "frames.parquet")
    # the whole-run quantile the gate judged (radcam selects it from spilled samples) is the
    # linear-interpolation quantile of the per-frame column, as DuckDB computes it
    e2e = con.execute(
        "SELECT quantile_cont(latency_e2e_ms, 0.999), count(latency_e2e_ms) FROM read_parquet(?)",
        [frames]).fetchone()
    gate = con.execute(
        "SELECT value, samples FROM read_parquet(?) WHERE gate = 'e2e_latency_p999'", [gates]).fetchone()
    if gate is None or e2e[1] != gate[1] or abs(e2e[0] - gate[0]) > 1e-9 * max(1.0, abs(e2e[0])):
        raise SystemExit(f"duckdb: e2e latency P99.9 over frames.parquet {e2e} != gate {gate}")
    if e2e[1] < min_e2e_samples:
        raise SystemExit(f"duckdb: only {e2e[1]} e2e samples, the check wants {min_e2e_samples}")
    # per window, the radar objects left unmatched in frames.parquet make windows.parquet's rate
    mismatched = con.execute(
        "WITH f AS (SELECT (t_ns // 10000000000) * 10000000000 AS w, "
        "  sum(radar_objects_unmatched)::DOUBLE / sum(radar_objects_in_view) AS rate "
        "  FROM read_parquet(?) WHERE radar_objects_in_view > 0 GROUP BY 1) "
        "SELECT count(*) FROM f FULL JOIN (SELECT window_start_ns AS w, value FROM read_parquet(?) "
        "  WHERE metric = 'radar_unmatched_rate') m USING (w) "
        "WHERE f.rate IS NULL OR m.value IS NULL OR abs(f.rate - m.value) > 1e-12",
        [frames, windows]).fetchone()[0]
    if mismatched:
        raise SystemExit(f"duckdb: {mismatched} windows' radar_unmatched_rate disagree with frames.parquet")
    n = con.execute("SELECT count(*) FROM read_parquet(?)", [os.path.join(report_dir, "associations.parquet")]).fetchone()[0]
    print(f"duckdb interop: windows.parquet {t.num_rows} rows; worst sync P99.9 window {worst[0]} agrees with the "
          f"gate's evidence; e2e P99.9 over {e2e[1]} samples agrees with the gate; associations.parquet {n} rows; "
          f"metadata estimator={kv['estimator']}")


def main(report_dir, min_e2e_samples=0):
    path = os.path.join(report_dir, "gates.parquet")
    table = pq.read_table(path)
    if table.column_names != COLUMNS:
        raise SystemExit(f"{path}: columns {table.column_names} != {COLUMNS}")
    rows = table.to_pylist()
    gates = [r["gate"] for r in rows]
    for g in ("sync_p999", "reprojection_p95", "track_id_switch_rate"):
        if g not in gates:
            raise SystemExit(f"{path}: gate {g} missing")
    for r in rows:
        if r["verdict"] not in ("PASS", "FAIL", "INCONCLUSIVE"):
            raise SystemExit(f"{path}: bad verdict {r['verdict']}")
        if r["worst_window_start_ns"] is not None and not r["worst_window_start_ns"] < r["worst_window_end_ns"]:
            raise SystemExit(f"{path}: gate {r['gate']}: bad evidence window")
    kv = {k.decode(): v.decode() for k, v in (pq.ParquetFile(path).metadata.metadata or {}).items()}
    missing = [k for k in METADATA if k not in kv]
    if missing:
        raise SystemExit(f"{path}: key-value metadata missing {missing}")
    print(f"parquet interop: {path}: {len(rows)} gates, verdicts {[r['verdict'] for r in rows]}")
    check_sync_and_audit(report_dir)
    check_fusion_tables(report_dir)
    check_windows_and_duckdb(report_dir, min_e2e_samples)


if __name__ == "__main__":
    # optional second argument: the least number of e2e latency samples the report must have
    # (above 65,536 the gate's quantile comes from the spilled-sample radix selection)
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
