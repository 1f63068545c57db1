#!/usr/bin/env python3
"""Interop check: pyarrow reads radcam's gates.parquet with the contract's columns, verdicts
and key-value metadata.

usage: check_parquet.py REPORT_DIR
"""
import os
import sys

import pyarrow.parquet as pq

COLUMNS = ["gate", "metric", "comparator", "threshold", "value", "samples", "verdict"]
METADATA = ["tool_version", "recording_content_hash", "scenario_hash", "seed", "fault_plan", "estimator",
            "cal_version", "config_version"]


def main(report_dir):
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
    kv = {k.decode(): v.decode() for k, v in (pq.ParquetFile(path).metadata.metadata or {}).items()}
    missing = [k for k in METADATA if k not in kv]
    if missing:
        raise SystemExit(f"{path}: key-value metadata missing {missing}")
    print(f"parquet interop: {path}: {len(rows)} gates, verdicts {[r['verdict'] for r in rows]}")


if __name__ == "__main__":
    main(sys.argv[1])
