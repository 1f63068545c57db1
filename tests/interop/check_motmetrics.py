#!/usr/bin/env python3
"""Interop check: py-motmetrics, fed radcam's tracks.parquet and ground_truth.parquet, computes
the same num_switches (exactly), MOTA and IDF1 (to 1e-6) as radcam's tracking.parquet.

Frames are keyed by frame_id; objects and hypotheses are passed in file order (which is the
order radcam scored them in); distances are squared Euclidean on (x_m, y_m) with
max_d2 = match_threshold_m². Frames with truth but no tracks, or tracks but no truth, are
frames all the same: the frame set is the union of both tables' frame_ids.

usage: check_motmetrics.py REPORT_DIR [REPORT_DIR ...]
"""
import os
import sys

import motmetrics as mm
import numpy as np
import pyarrow.parquet as pq


def frames(table, id_col):
    out = {}
    for fid, oid, x, y in zip(table.column("frame_id").to_pylist(), table.column(id_col).to_pylist(),
                              table.column("x_m").to_pylist(), table.column("y_m").to_pylist()):
        out.setdefault(fid, []).append((oid, x, y))
    return out


def check(report_dir):
    tracking = pq.read_table(os.path.join(report_dir, "tracking.parquet")).to_pylist()
    if len(tracking) != 1:
        raise SystemExit(f"{report_dir}: tracking.parquet has {len(tracking)} rows, expected 1")
    ours = tracking[0]
    thr = ours["match_threshold_m"]
    truth = frames(pq.read_table(os.path.join(report_dir, "ground_truth.parquet")), "object_id")
    hyps = frames(pq.read_table(os.path.join(report_dir, "tracks.parquet")), "track_id")
    acc = mm.MOTAccumulator(auto_id=False)
    for fid in sorted(set(truth) | set(hyps)):
        o = truth.get(fid, [])
        h = hyps.get(fid, [])
        d = mm.distances.norm2squared_matrix(np.array([[x, y] for _, x, y in o]).reshape(-1, 2),
                                             np.array([[x, y] for _, x, y in h]).reshape(-1, 2),
                                             max_d2=thr * thr)
        acc.update([i for i, _, _ in o], [i for i, _, _ in h], d, frameid=fid)
    mh = mm.metrics.create()
    s = mh.compute(acc, metrics=["num_switches", "num_matches", "num_misses", "num_false_positives",
                                 "num_objects", "mota", "idf1"], name="radcam")
    theirs = {k: s[k].iloc[0] for k in s.columns}
    problems = []
    for k in ["num_switches", "num_matches", "num_misses", "num_false_positives", "num_objects"]:
        if int(theirs[k]) != int(ours[k]):
            problems.append(f"{k}: radcam {ours[k]} vs motmetrics {int(theirs[k])}")
    for k in ["mota", "idf1"]:
        if not abs(float(theirs[k]) - ours[k]) <= 1e-6:
            problems.append(f"{k}: radcam {ours[k]!r} vs motmetrics {float(theirs[k])!r}")
    if problems:
        raise SystemExit(f"{report_dir}: radcam and motmetrics disagree: " + "; ".join(problems))
    if ours["num_matches"] == 0:
        raise SystemExit(f"{report_dir}: nothing was matched; the comparison proves nothing")
    print(f"motmetrics interop: {report_dir}: {len(set(truth) | set(hyps))} frames, "
          f"switches {ours['num_switches']}, MOTA {ours['mota']:.6f}, IDF1 {ours['idf1']:.6f} — agree")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for d in sys.argv[1:]:
        check(d)
