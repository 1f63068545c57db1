#!/usr/bin/env python3
"""Interop check: pyarrow reads radcam's sweep.parquet (grid) and tolerance.parquet (tolerance
search) with their key-value metadata; DuckDB aggregates the sweep.

usage: check_sweep.py GRID_DIR TOLERANCE_DIR GRID_PARAM...
"""
import os
import sys

import duckdb
import pyarrow.parquet as pq

METADATA = ["tool_version", "recording_content_hash", "recording_start_ns", "scenario_hash", "seed", "fault_plan", "estimator",
            "cal_version", "config_version", "sweep"]
TOLERANCE_COLUMNS = ["kind", "band", "band_min_mps", "band_max_mps", "detections", "tolerance", "unit", "resolution",
                     "searched_max", "status", "limiting_gate", "limiting_value"]


def check_metadata(path):
    meta = {k.decode(): v.decode() for k, v in (pq.ParquetFile(path).metadata.metadata or {}).items()}
    missing = [k for k in METADATA if k not in meta]
    if missing:
        raise SystemExit(f"{path}: metadata lacks {missing}")
    return meta


def main(grid_dir, tolerance_dir, params):
    path = os.path.join(grid_dir, "sweep.parquet")
    sweep = pq.read_table(path)
    cols = sweep.column_names
    expected_head = ["run_index", "replicate", "seed"] + params + ["fault_plan", "passed"]
    if cols[:len(expected_head)] != expected_head:
        raise SystemExit(f"{path}: columns start {cols[:len(expected_head)]}, expected {expected_head}")
    verdict_cols = [c for c in cols if c.endswith("_verdict")]
    if not verdict_cols or any(c[:-len("_verdict")] + "_value" not in cols for c in verdict_cols):
        raise SystemExit(f"{path}: every gate needs a _value and a _verdict column: {cols}")
    runs = sweep.column("run_index").to_pylist()
    if runs != list(range(len(runs))):
        raise SystemExit(f"{path}: run_index is not 0..n")
    for c in verdict_cols:
        bad = set(sweep.column(c).to_pylist()) - {"PASS", "FAIL", "INCONCLUSIVE"}
        if bad:
            raise SystemExit(f"{path}: {c} has {bad}")
    meta = check_metadata(path)
    per_point = duckdb.sql(
        f"select {', '.join(params)}, count(*) n, sum(passed::int) ok from '{path}' "
        f"group by all order by all").fetchall()
    print(f"sweep interop: sweep.parquet {sweep.num_rows} runs, {len(per_point)} grid points, "
          f"{len(verdict_cols)} gates, sweep='{meta['sweep']}'")

    path = os.path.join(tolerance_dir, "tolerance.parquet")
    tol = pq.read_table(path)
    if tol.column_names != TOLERANCE_COLUMNS:
        raise SystemExit(f"{path}: columns {tol.column_names} != {TOLERANCE_COLUMNS}")
    check_metadata(path)
    rows = tol.to_pylist()
    if rows[0]["band"] != "all":
        raise SystemExit(f"{path}: first band is {rows[0]['band']}, not 'all'")
    for r in rows:
        if r["status"] not in {"within", "fails_without_faults", "passes_at_max", "no_targets"}:
            raise SystemExit(f"{path}: status {r['status']}")
        if r["status"] == "within" and not (0 <= r["tolerance"] <= r["searched_max"]):
            raise SystemExit(f"{path}: tolerance {r['tolerance']} outside 0..{r['searched_max']}")
    print("tolerance interop: " + "; ".join(
        f"{r['band']} {r['tolerance']} {r['unit']} ({r['status']})" for r in rows))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
