"""Helpers shared by scripts/chaos.d/crash and scripts/chaos.d/concurrency: the multi-step
example workspace, running the binary, and the consistency checks (temp files, JSON files,
packs, `job doctor`, `store check`, outputs)."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent.parent
BIN = os.environ.get("PIPELINE_BIN", str(ROOT / ".build" / "debug" / "pipeline"))
SHORT = os.environ.get("CHAOS_SCALE") == "short"
ENV = {**os.environ, "CI": "true", "TZ": "UTC"}
ENV.pop("PIPELINE_STORE", None)
ENV.pop("PIPELINE_FAULT_INJECT", None)

# A temp file of Materializer (`.NAME.tmp-PID-N`); anything in <store>/tmp is one of LocalStore;
# `store.log.compact-PID` is gc's new log before its rename.
TEMP = re.compile(r"^\..+\.tmp-(\d+)-(\d+)$")
COMPACT = re.compile(r"^store\.log\.compact-(\d+)$")
# What a store holds at its top (README "The store"); anything else is debris.
STORE_ENTRIES = {"format", "store.log", "cas", "ac", "tmp", "workspaces", "jobs", "pins", "reports", "gc.lock"}


def steps(gate: bool, log: str = None, count: int = 40000) -> str:
    """The example: gen -> part0..5 -> [gate] -> join -> sum. With `log`, every command first
    appends its step's name to that file (outside the workspace), to count executions."""
    text = """pipeline: 1
steps:
  gen:
    inputs: [src/seed]
    run: mkdir -p out && seq $(cat src/seed) """ + str(count) + """ > out/numbers && sleep 0.05
    outputs: [out/numbers]
"""
    for i in range(6):
        text += f"""  part{i}:
    needs: [gen]
    run: awk 'NR % 6 == {i}' out/numbers > out/part{i} && sleep 0.0{i + 2}
    outputs: [out/part{i}]
"""
    after = "[part0, part1, part2, part3, part4, part5]"
    if gate:
        text += f"""  gate:
    needs: {after}
    use: approve
    with: {{ summary: "Join the parts?", required_action: "look at out/part*" }}
"""
        after = "[gate]"
    text += f"""  join:
    needs: {after}
    run: cat out/part0 out/part1 out/part2 out/part3 out/part4 out/part5 | sort -n > out/all && sleep 0.05
    outputs: [out/all]
  sum:
    needs: [join]
    run: awk '{{ s += $1 }} END {{ print s }}' out/all > out/sum
    outputs: [out/sum]
"""
    if log:
        text = re.sub(r"^  (\w+):\n((?:    (?!run:).*\n)*)    run: ", lambda m: f"  {m.group(1)}:\n{m.group(2)}    run: echo {m.group(1)} >> {log} && ", text, flags=re.M)
    return text


OUTPUTS = ["out/numbers"] + [f"out/part{i}" for i in range(6)] + ["out/all", "out/sum"]


class Failure(Exception):
    pass


def pipeline(args, cwd, timeout=120, env=None):
    try:
        return subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env=env or ENV, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Failure(f"`pipeline {' '.join(args)}` did not end within {timeout}s")


def must(args, cwd, codes=(0,), env=None):
    result = pipeline(args, cwd, env=env)
    if result.returncode not in codes:
        raise Failure(f"`pipeline {' '.join(args)}` exit {result.returncode}: {(result.stdout + result.stderr).strip()[-600:]}")
    return result


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def session_members(sid):
    """Pids of live processes in session `sid` (the killed pipeline's step commands)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] not in "ZX":  # fields[3]: session id
            pids.append(int(entry))
    return pids


def kill_at(args, cwd, delay, env=None, after=None):
    """Starts `pipeline ARGS` in its own session, SIGKILLs it after `delay` seconds (counted
    from when `after()` first holds, when given) if it still runs, then kills what it left
    running. Returns (pid, exit code or None if killed)."""
    proc = subprocess.Popen([BIN, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, env=env or ENV, start_new_session=True)
    while after is not None and proc.poll() is None and not after():
        time.sleep(0.0005)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(min(0.002, max(0.0, deadline - time.monotonic())))
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    code = proc.wait()
    for _ in range(3):
        members = session_members(proc.pid)
        if not members:
            break
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    return proc.pid, (None if killed else code)


def timed(args, cwd, env=None):
    started = time.monotonic()
    must(args, cwd, env=env)
    return time.monotonic() - started


def outputs(ws: Path) -> dict:
    return {p: (ws / p).read_bytes() if (ws / p).exists() else None for p in OUTPUTS}


def temp_files(tree: Path, store: Path):
    """(path, pid or None) of every temp file under `tree`: Materializer's `.NAME.tmp-PID-N`,
    anything in <store>/tmp, gc's `.gc-ID` job folders moved aside."""
    found = []
    for folder, dirs, files in os.walk(tree):
        here = Path(folder)
        for name in files + dirs:
            m = TEMP.match(name) or COMPACT.match(name)
            if m:
                found.append((str((here / name).relative_to(tree)), int(m.group(1))))
            elif name.startswith(".gc-") and here.name == "jobs":
                found.append((str((here / name).relative_to(tree)), None))
    inside = str(store).startswith(str(tree) + "/")
    for entry in (store / "tmp").iterdir() if inside and (store / "tmp").is_dir() else []:
        pid = entry.name.split("-", 1)[0]
        found.append((str(entry.relative_to(tree)), int(pid) if pid.isdigit() else None))
    for entry in store.iterdir() if inside and store.is_dir() else []:
        if entry.name not in STORE_ENTRIES and not COMPACT.match(entry.name) and not TEMP.match(entry.name):
            found.append((str(entry.relative_to(tree)), None))
    return sorted(set(found), key=str)


def check_files(tree: Path, allow_torn_tail: bool):
    """Every JSON file parses; every .jsonl line parses (a torn last line of a job's log only
    when allowed); packs verify."""
    for folder, _, files in os.walk(tree):
        for name in files:
            path = Path(folder) / name
            if TEMP.match(name) or (path.parent.name == "tmp" and (path.parent.parent / "format").exists()):
                continue
            if name.endswith(".json"):
                try:
                    json.loads(path.read_bytes())
                except ValueError as error:
                    raise Failure(f"{path.relative_to(tree)} does not parse: {error}")
            elif name.endswith(".jsonl"):
                data = path.read_bytes()
                lines = data.split(b"\n")
                torn = lines.pop()  # after the last newline: b"" unless torn
                if torn and not (allow_torn_tail and name == "events.jsonl"):
                    raise Failure(f"{path.relative_to(tree)} ends with a torn line ({len(torn)} bytes)")
                for number, line in enumerate(lines, 1):
                    try:
                        json.loads(line)
                    except ValueError as error:
                        raise Failure(f"{path.relative_to(tree)}:{number} does not parse: {error}")
            elif name.startswith("pack_") and name.endswith(".zip"):
                verified = pipeline(["pack", "verify", str(path)], tree)
                if verified.returncode != 0:
                    raise Failure(f"{path.relative_to(tree)} is a pack that does not verify: {verified.stdout}{verified.stderr}")


DOCTOR_AFTER_KILL = {"abandoned", "torn_line", "snapshot_diverged", "empty_log", "stale_temp"}


def doctor(ws: Path, allowed: set):
    result = pipeline(["job", "doctor", "--json"], ws)
    for doc in json_lines(result.stdout):
        for finding in doc.get("findings", []):
            if finding["code"] not in allowed or "ahead" in finding["message"]:
                raise Failure(f"job doctor: {doc.get('job', doc.get('id'))}: {finding}")
    if result.returncode not in (0, 2) or (result.returncode == 2 and not allowed):
        raise Failure(f"job doctor exit {result.returncode}: {result.stdout}{result.stderr}")


def store_check(ws: Path, allowed: set):
    if not (ws / ".pipeline" / "format").exists():
        return
    result = pipeline(["store", "check", "--json"], ws)
    docs = json_lines(result.stdout)
    report = next((d for d in docs if d.get("schema_id") == "pipeline.store_check"), None)
    if report is None:
        raise Failure(f"store check exit {result.returncode}: {result.stdout}{result.stderr}")
    bad = [p for p in report["problems"] if p["code"] not in allowed]
    if bad:
        raise Failure(f"store check: {bad}")


def after_kill(ws: Path, pid: int, extra_trees=()):
    """What must hold right after the kill, before any recovery."""
    store = ws / ".pipeline"
    for tree in (ws, *extra_trees):
        for path, owner in temp_files(tree, store):
            if owner is not None and owner != pid:
                raise Failure(f"temp file {path} of another process (pid {owner}, killed {pid})")
        check_files(tree, allow_torn_tail=True)
    doctor(ws, DOCTOR_AFTER_KILL)
    store_check(ws, {"torn_log"})
    return sum(1 for tree in (ws, *extra_trees) for _ in temp_files(tree, store))


def after_recovery(ws: Path, reference: dict, extra_trees=(), rerun=True):
    """What must hold once the recovery (rerun, resume, gc, pack build again) succeeded.
    A job the recovery did not take over (a fresh run was started instead) may still show
    what the kill left (abandoned, a snapshot behind its log, a killed writer's temp file):
    no corruption, and `job doctor --repair` must then leave every job healthy. Returns how
    many temp files only `doctor --repair` removed."""
    store = ws / ".pipeline"
    doctor(ws, DOCTOR_AFTER_KILL)
    before = len([t for tree in (ws, *extra_trees) for t in temp_files(tree, store)])
    must(["job", "doctor", "--repair"], ws)
    for tree in (ws, *extra_trees):
        left = temp_files(tree, store)
        if left:
            raise Failure(f"temp files left after recovery: {[p for p, _ in left]}")
        check_files(tree, allow_torn_tail=False)
    doctor(ws, set())
    store_check(ws, set())
    if reference is not None:
        got = outputs(ws)
        if got != reference:
            raise Failure(f"outputs differ from a clean build: {[p for p in OUTPUTS if got[p] != reference[p]]}")
    if reference is not None and rerun:
        again = pipeline(["run", "--json"], ws)
        if again.returncode != 0 or any(d.get("status") == "ran" for d in json_lines(again.stdout)):
            raise Failure(f"a run after recovery still executed steps (exit {again.returncode})")
    return before


def fresh(base: Path, name: str, gate=False, seed=1, log=None, count=40000) -> Path:
    ws = base / name
    if ws.exists():
        shutil.rmtree(ws)
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "seed").write_text(f"{seed}\n")
    (ws / "Pipelinefile.yaml").write_text(steps(gate, log, count))
    return ws


def clone(template: Path, ws: Path):
    """Copies a prepared workspace to the path it was built at (the store keys state by path)."""
    if ws.exists():
        shutil.rmtree(ws)
    shutil.copytree(template, ws, symlinks=True)


def latest_job(ws: Path):
    jobs = ws / ".pipeline" / "jobs"
    ids = sorted(p.name for p in jobs.iterdir() if re.match(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$", p.name)) if jobs.is_dir() else []
    return ids[-1] if ids else None


def job_status(ws: Path, job: str):
    shown = pipeline(["job", "show", job, "--json"], ws)
    docs = json_lines(shown.stdout)
    return docs[0] if docs and shown.returncode == 0 else None


