#!/usr/bin/env python3
"""Remote cache on loopback: restoring from a real nginx vs running the steps, and large-blob
throughput vs a plain curl loop over the same files.

    python3 bench/remote.py      (PIPELINE_BIN, REMOTE_STEPS=1000, REMOTE_BIG_MIB=64, REMOTE_BIG_COUNT=8)

Starts nginx with deploy/nginx-cache.conf on a free port under a scratch folder. Machine A
builds the bench/gen.py graph with --remote-cache (uploads); machine B, a fresh copy with an
empty store, is timed restoring everything from the cache and, separately, running it all.
Then REMOTE_BIG_COUNT steps each write REMOTE_BIG_MIB of random bytes; B's restore of those
is compared with `curl -o` of the same blobs one after another. Writes bench/REMOTE-RESULTS.md.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import gen  # noqa: E402

PIPELINE = os.environ.get("PIPELINE_BIN", str(REPO / ".build" / "release" / "pipeline"))
STEPS = int(os.environ.get("REMOTE_STEPS", "1000"))
BIG_MIB = int(os.environ.get("REMOTE_BIG_MIB", "64"))
BIG_COUNT = int(os.environ.get("REMOTE_BIG_COUNT", "8"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(args: list[str], cwd: Path, env: dict | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"remote bench: {' '.join(args)} failed: {r.stderr[-800:]}")
    return dt


def main() -> int:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    base = Path(tempfile.mkdtemp(prefix="remote-bench-"))
    prefix = base / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "root").mkdir()
    for p in (base, prefix, prefix / "tmp", prefix / "root"):
        p.chmod(0o777)
    port = free_port()
    conf = (REPO / "deploy" / "nginx-cache.conf").read_text().replace("@PREFIX@", str(prefix)).replace("@PORT@", str(port))
    (prefix / "nginx.conf").write_text(conf)
    server = subprocess.Popen([nginx, "-c", str(prefix / "nginx.conf"), "-p", str(prefix)])
    url = f"http://127.0.0.1:{port}/pipeline"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        graph = gen.build_graph(STEPS)
        a, b = base / "a", base / "b"
        gen.write_workspace(graph, str(a), ["pipeline"])
        timed([PIPELINE, "run", "-j2", "--remote-cache", url], a)
        gen.write_workspace(graph, str(b), ["pipeline"])
        restore = timed([PIPELINE, "run", "-j2", "--remote-cache", url], b)
        shutil.rmtree(b)
        gen.write_workspace(graph, str(b), ["pipeline"])
        run = timed([PIPELINE, "run", "-j2"], b)

        big_a, big_b = base / "big-a", base / "big-b"
        lines = ["pipeline: 1", "steps:"]
        for i in range(BIG_COUNT):
            lines += [f"  big{i}:", f"    run: head -c {BIG_MIB << 20} /dev/urandom > out/big{i}.bin", f"    outputs: [out/big{i}.bin]"]
        for w in (big_a, big_b):
            (w / "out").mkdir(parents=True)
            (w / "Pipelinefile.yaml").write_text("\n".join(lines) + "\n")
        timed([PIPELINE, "run", "-j2", "--remote-cache", url], big_a)
        big_restore = timed([PIPELINE, "run", "-j2", "--remote-cache", url], big_b)
        blobs = [p.name for p in (prefix / "root" / "pipeline" / "cas").iterdir() if p.stat().st_size >= BIG_MIB << 20]
        t0 = time.perf_counter()
        for name in blobs[:BIG_COUNT]:
            subprocess.run(["curl", "-s", "-o", str(base / "dl.bin"), f"{url}/cas/{name}"], check=True)
        curl = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(base, ignore_errors=True)
    mib = BIG_MIB * BIG_COUNT
    text = "\n".join([
        "# Remote cache on loopback (nginx, deploy/nginx-cache.conf)", "",
        f"pipeline: `{PIPELINE}`, one run each.", "",
        "| | time |", "|---|---:|",
        f"| {STEPS} steps: restore everything from the remote cache (empty local store) | {restore:.2f} s |",
        f"| {STEPS} steps: run everything (no cache) | {run:.2f} s |",
        f"| {BIG_COUNT} blobs of {BIG_MIB} MiB: pipeline restore from the remote cache | {big_restore:.2f} s ({mib / big_restore:.0f} MiB/s) |",
        f"| the same blobs: `curl -o` one after another | {curl:.2f} s ({mib / curl:.0f} MiB/s) |", "",
    ])
    print(text)
    (REPO / "bench" / "REMOTE-RESULTS.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
