#!/usr/bin/env python3
"""Crash campaign for jobs: kill `pipeline run` with SIGKILL at random moments, then check
that nothing is corrupt and that finishing the job gives the outputs of a clean build.

Each trial: a fresh workspace with a multi-step pipeline (fan-out, fan-in, a few short
sleeps); `pipeline run` is killed after a random delay; then
  - `pipeline job doctor` finds nothing but an abandoned job (the kill itself),
  - `pipeline job doctor --repair` leaves every job healthy,
  - `pipeline job resume <id>` (or, when the job was done or never started, a new run)
    completes,
  - every declared output equals the clean build's, and no temp file is left beside them.

Counts: CRASH_TRIALS (default 30), CRASH_SEED. Ends with "N passed, N failed".
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = os.environ.get("PIPELINE_BIN", str(ROOT / ".build" / "debug" / "pipeline"))
TRIALS = int(os.environ.get("CRASH_TRIALS", "30"))
SEED = int(os.environ.get("CRASH_SEED", str(int(time.time()))))

# Every sleep carries this campaign's token, so its orphans can be killed without touching
# anything else on the machine.
TOKEN = "".join(random.Random().choice("123456789") for _ in range(6))
PIPELINEFILE = """pipeline: 1
steps:
  gen:
    run: mkdir -p out && seq 1 2000 > out/numbers && sleep 0.05""" + TOKEN + """
    outputs: [out/numbers]
"""
for i in range(6):
    PIPELINEFILE += f"""  part{i}:
    needs: [gen]
    run: awk 'NR % 6 == {i}' out/numbers > out/part{i} && sleep 0.0{i + 2}{TOKEN}
    outputs: [out/part{i}]
"""
PIPELINEFILE += """  join:
    needs: [part0, part1, part2, part3, part4, part5]
    run: cat out/part0 out/part1 out/part2 out/part3 out/part4 out/part5 | sort -n > out/all && sleep 0.05""" + TOKEN + """
    outputs: [out/all]
  sum:
    needs: [join]
    run: awk '{ s += $1 } END { print s }' out/all > out/sum
    outputs: [out/sum]
"""
OUTPUTS = ["out/numbers"] + [f"out/part{i}" for i in range(6)] + ["out/all", "out/sum"]


def run(args, cwd, timeout=60):
    return subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "CI": "true"}, stdin=subprocess.DEVNULL)


def fresh(base: Path, name: str) -> Path:
    ws = base / name
    ws.mkdir()
    (ws / "Pipelinefile.yaml").write_text(PIPELINEFILE)
    return ws


def outputs(ws: Path) -> dict:
    return {p: (ws / p).read_bytes() if (ws / p).exists() else None for p in OUTPUTS}


def leftovers(ws: Path) -> list:
    return [str(p.relative_to(ws)) for p in (ws / "out").glob(".*.tmp-*")] if (ws / "out").exists() else []


def trial(base: Path, n: int, rng: random.Random, reference: dict) -> str | None:
    ws = fresh(base, f"t{n}")
    # Sometimes start from a half-built workspace, so restores and reruns are interrupted too.
    if rng.random() < 0.3:
        run(["run", "gen", "part0"], ws)
        if rng.random() < 0.5:
            shutil.rmtree(ws / "out")
    delay = rng.uniform(0.0, 0.6)
    proc = subprocess.Popen([BIN, "run", f"-j{rng.choice([1, 2, 4])}"], cwd=ws, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "CI": "true"})
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(["pkill", "-KILL", "-f", f"sleep 0.0[0-9]*{TOKEN}"], capture_output=True)  # orphans of the killed run

    # A kill may leave only what a read reconciles or --repair fixes from the log; anything
    # else (a corrupt line mid-log, an impossible history, a missing contract) is a failure.
    expected = {"abandoned", "torn_line", "snapshot_diverged", "empty_log"}
    doctor = run(["job", "doctor", "--json"], ws)
    for line in doctor.stdout.splitlines():
        for finding in json.loads(line)["findings"]:
            if finding["code"] not in expected or "ahead" in finding["message"]:
                return f"doctor after kill: {finding}"
    repaired = run(["job", "doctor", "--repair"], ws)
    if repaired.returncode != 0:
        return f"doctor --repair exit {repaired.returncode}: {repaired.stdout}{repaired.stderr}"
    if run(["job", "doctor"], ws).returncode != 0:
        return "jobs not healthy after --repair"

    jobs = sorted((ws / ".pipeline" / "jobs").iterdir()) if (ws / ".pipeline" / "jobs").exists() else []
    finished = None
    if jobs:
        last = jobs[-1].name
        status = json.loads(run(["job", "show", last, "--json"], ws).stdout or "{}").get("status")
        if status in ("failed", "paused", "decision_needed"):
            finished = run(["job", "resume", last], ws)
    if finished is None or finished.returncode != 0:
        finished = run(["run"], ws)
    if finished.returncode != 0:
        return f"finishing exit {finished.returncode}: {finished.stderr}"
    if outputs(ws) != reference:
        bad = [p for p, v in outputs(ws).items() if v != reference[p]]
        return f"outputs differ from a clean build: {bad}"
    if leftovers(ws):
        return f"temp files left: {leftovers(ws)}"
    again = run(["run", "--json"], ws)
    if '"status":"ran"' in again.stdout:
        return "a run after finishing still executed steps"
    return None


def main() -> int:
    if not Path(BIN).exists():
        print(f"no pipeline binary at {BIN} (swift build first, or set PIPELINE_BIN)")
        return 1
    rng = random.Random(SEED)
    base = Path(tempfile.mkdtemp(prefix="pipeline-crash-"))
    try:
        clean = fresh(base, "clean")
        assert run(["run"], clean).returncode == 0, "clean build failed"
        reference = outputs(clean)
        passed = failed = 0
        for n in range(TRIALS):
            problem = trial(base, n, rng, reference)
            if problem:
                failed += 1
                print(f"trial {n} (seed {SEED}): FAILED: {problem}")
            else:
                passed += 1
        print(f"crash campaign: {TRIALS} trials of SIGKILL during `pipeline run`, seed {SEED}")
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
