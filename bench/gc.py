#!/usr/bin/env python3
"""Time `pipeline gc` over synthetic stores of 10,000 and 100,000 blobs; report growth.

    python3 bench/gc.py            (PIPELINE_BIN, GC_SIZES="10000 100000", GC_REPEAT=3)

Each store is written directly in the store.log format (see README, "The store"): N blobs
and N/2 action results, each result naming two blobs, with last-use times spread over 60
days, plus 200 ended jobs. Two runs are timed per size: `gc --dry-run` (plan + report) and
`gc --ttl 30d --keep-jobs 20 --max-size <half>` (plan, report, compaction, removal), each on
a fresh copy. Growth from the smallest to the largest size should be about linear.
Prints a markdown table; writes bench/GC-RESULTS.md. Python 3 standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PIPELINE = os.environ.get("PIPELINE_BIN", str(REPO / ".build" / "release" / "pipeline"))
SIZES = [int(s) for s in os.environ.get("GC_SIZES", "10000 100000").split()]
REPEAT = int(os.environ.get("GC_REPEAT", "3"))
EMPTY = hashlib.sha256(b"").hexdigest()
NOW = int(time.time())


def canonical(doc) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def make_store(root: Path, blobs: int) -> int:
    (root / "cas").mkdir(parents=True)
    (root / "ac").mkdir()
    (root / "tmp").mkdir()
    (root / "format").write_text("pipeline-store 1\n")
    digests = []
    with open(root / "store.log", "wb") as log:
        for i in range(blobs):
            data = f"blob {i} {'x' * (i % 200)}\n".encode()
            d = hashlib.sha256(data).hexdigest()
            digests.append((d, len(data)))
            t = NOW - (i * 60 * 86400) // blobs
            log.write(f"B {d} {len(data)} {t}\n".encode() + data + b"\n")
        for j in range(blobs // 2):
            files = [{"path": f"out/{j}/{k}", "sha256": digests[2 * j + k][0], "size": digests[2 * j + k][1], "mode": 420} for k in (0, 1)]
            result = canonical({"schema_id": "pipeline.action_result", "schema_version": "1.0.0", "files": files, "directories": [],
                                "exit_code": 0, "stdout": EMPTY, "stderr": EMPTY, "duration_ns": 0})
            key = hashlib.sha256(f"key {j}".encode()).hexdigest()
            t = NOW - (2 * j * 60 * 86400) // blobs
            log.write(f"A {key} {len(result)} {t}\n".encode() + result + b"\n")
    for n in range(200):
        job = f"20250101T{n // 3600:02d}{n // 60 % 60:02d}{n % 60:02d}Z-{n:06x}"
        folder = root / "jobs" / job
        folder.mkdir(parents=True)
        event = {"schema_id": "pipeline.job_event", "schema_version": "1.0.0", "seq": 1, "time": "2025-01-01T00:00:00.000Z",
                 "type": "created", "actor": "bench", "payload": {"targets": []}}
        done = dict(event, seq=2, type="status", payload={"to": "completed"})
        (folder / "events.jsonl").write_bytes(canonical(event) + b"\n" + canonical(done) + b"\n")
    return sum(size for _, size in digests)


def timed(args: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([PIPELINE] + args, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"gc bench: {' '.join(args)} failed: {r.stderr[-500:]}")
    return dt


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="gc-bench-"))
    rows = []
    try:
        for n in SIZES:
            template = base / f"template-{n}"
            data_bytes = make_store(template / ".pipeline", n)
            log_bytes = (template / ".pipeline" / "store.log").stat().st_size
            figures = {}
            for name, args in (("dry-run", ["gc", "--dry-run", "--store", ".pipeline"]),
                               ("collect", ["gc", "--store", ".pipeline", "--ttl", "30d", "--keep-jobs", "20", "--max-size", str(log_bytes // 4)])):
                runs = []
                for _ in range(REPEAT):
                    work = base / f"work-{n}"
                    shutil.rmtree(work, ignore_errors=True)
                    shutil.copytree(template, work)
                    runs.append(timed(args, work))
                figures[name] = statistics.median(runs)
            rows.append((n, data_bytes, log_bytes, figures))
            print(f"  [gc] {n} blobs: dry-run {figures['dry-run']:.3f} s, collect {figures['collect']:.3f} s", file=sys.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    lines = ["# pipeline gc over large stores", "", f"pipeline: `{PIPELINE}`; medians of {REPEAT} runs; each run on a fresh copy.", "",
             "| blobs | results | store.log | gc --dry-run | gc (ttl 30d, keep_jobs 20, max_size ¼) |", "|---:|---:|---:|---:|---:|"]
    for n, _, log_bytes, f in rows:
        lines.append(f"| {n:,} | {n // 2:,} | {log_bytes / 1e6:.1f} MB | {f['dry-run']:.3f} s | {f['collect']:.3f} s |")
    if len(rows) >= 2:
        (n0, _, _, f0), (n1, _, _, f1) = rows[0], rows[-1]
        lines += ["", f"Growth from {n0:,} to {n1:,} blobs ({n1 / n0:.0f}x): dry-run {f1['dry-run'] / f0['dry-run']:.1f}x, "
                      f"collect {f1['collect'] / f0['collect']:.1f}x (linear would be {n1 / n0:.0f}x)."]
    text = "\n".join(lines) + "\n"
    print(text)
    (REPO / "bench" / "GC-RESULTS.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
