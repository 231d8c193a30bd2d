#!/usr/bin/env python3
"""Benchmark pipeline against ninja, make and DVC; print and save a table.

    python3 bench/run.py          (or bench/run.sh)

Knobs (environment variables; defaults in brackets):
    PIPELINE_BIN        pipeline binary [<repo>/.build/release/pipeline]
    BENCH_SIZES         graph sizes in steps ["1000 10000"]
    BENCH_REPEAT        runs per figure, the median is reported [5]
    BENCH_HEAVY_REPEAT  runs for full build and restore-all when N > 2000 [3]
    BENCH_JOBS          parallel jobs for every tool [2]
    BENCH_DVC_SIZE      stages in the DVC comparison, 0 skips it [100]
    BENCH_DVC_REPRO     1 also times `dvc repro` restoring from its run cache
                        (slow: about 0.75 s per stage, run once) [1]
    BENCH_HASH_MIB      size of the SHA-256 test file in MiB, 0 skips it [1024]
    BENCH_TMPDIR        where the scratch workspaces go [system temp dir]
    BENCH_KEEP          1 keeps the scratch workspaces [0]
    BENCH_RESULTS       where the markdown goes [<repo>/bench/RESULTS.md]

Python 3.11 standard library only. ninja and dvc are installed with pip only
when they are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
import gen  # noqa: E402


def env_int(name: str, default: int) -> int:
    v = os.environ.get(name, "").strip()
    return int(v) if v else default


SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "1000 10000").replace(",", " ").split()]
REPEAT = max(1, env_int("BENCH_REPEAT", 5))
HEAVY_REPEAT = max(1, env_int("BENCH_HEAVY_REPEAT", 3))
JOBS = max(1, env_int("BENCH_JOBS", 2))
DVC_SIZE = env_int("BENCH_DVC_SIZE", 100)
DVC_REPRO = env_int("BENCH_DVC_REPRO", 1) != 0
HASH_MIB = env_int("BENCH_HASH_MIB", 1024)
KEEP = env_int("BENCH_KEEP", 0) != 0
RESULTS = Path(os.environ.get("BENCH_RESULTS") or BENCH_DIR / "RESULTS.md")

# Tools run with the caller's environment minus anything that would point
# pipeline at a store or cache outside the scratch workspace.
TOOL_ENV = {k: v for k, v in os.environ.items()
            if k not in ("PIPELINE_STORE", "PIPELINE_REMOTE_CACHE", "PIPELINE_REMOTE_CACHE_TOKEN",
                         "MAKEFLAGS", "MFLAGS", "NINJA_STATUS")}
TOOL_ENV["DVC_NO_ANALYTICS"] = "1"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- tools

def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def version_of(argv: list[str]) -> str | None:
    try:
        r = subprocess.run(argv + ["--version"], capture_output=True, text=True, timeout=120, env=TOOL_ENV)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    text = (r.stdout or r.stderr).strip()
    return text.splitlines()[0] if text else "?"


def find_tool(name: str) -> tuple[str, str] | None:
    """Path and version of a working `name`, skipping launcher shims.

    A pyenv shim or pip's wrapper script adds 50-80 ms to every run, which
    would swamp a no-op figure, so the real binary is preferred."""
    cands: list[str] = []
    scripts = sysconfig.get_path("scripts")
    if scripts:
        cands.append(os.path.join(scripts, name))
    if name == "ninja":
        try:
            import ninja as ninja_pkg  # type: ignore
            cands.insert(0, os.path.join(ninja_pkg.BIN_DIR, "ninja"))
        except Exception:
            pass
    w = shutil.which(name)
    if w:
        cands.append(w)
    if name == "ninja":  # prefer a native binary to any wrapper
        cands.sort(key=lambda c: not is_elf(c))
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            v = version_of([c])
            if v is not None:
                return c, v
    return None


def ensure_peers() -> None:
    missing = [n for n in ("ninja", "dvc") if find_tool(n) is None]
    if missing:
        log(f"installing {' '.join(missing)} with pip")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing])


@dataclass
class Tool:
    name: str
    argv: list[str]          # the build command, run in the workspace root
    state: list[str]         # paths removed for a clean tree (besides outputs)
    formats: tuple[str, ...]


# ---------------------------------------------------------------- timing

@dataclass
class Fig:
    runs: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs and not self.error else None


class RunError(Exception):
    pass


def timed(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=TOOL_ENV)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        tail = p.stderr.decode(errors="replace").strip().splitlines()[-8:]
        raise RunError(f"exit {p.returncode}: " + " | ".join(tail)[:600])
    return dt


def delete_outputs(ws: Path, outputs: list[str]) -> None:
    """Delete output files only; directories stay so every command still works."""
    for o in outputs:
        try:
            os.remove(ws / o)
        except FileNotFoundError:
            pass


def tree_digest(ws: Path, outputs: list[str]) -> str:
    h = hashlib.sha256()
    missing = 0
    for o in outputs:
        try:
            data = (ws / o).read_bytes()
        except FileNotFoundError:
            missing += 1
            continue
        h.update(o.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return f"MISSING {missing} outputs" if missing else h.hexdigest()


def fmt_t(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


def fmt_r(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "**FAIL**")


# ---------------------------------------------------------------- graph benchmark

PHASES = ("full", "noop", "incr", "restore")
PHASE_TITLES = {
    "full": "full build, clean tree",
    "noop": "no-op (nothing changed)",
    "incr": "one leaf changed",
    "restore": "restore all outputs",
}


@dataclass
class GraphResult:
    n: int
    reach: int
    layers: int
    figs: dict[str, dict[str, Fig]]           # tool -> phase -> Fig
    checks: dict[str, dict[str, bool]]        # phase -> tool -> outputs equal to the reference


def measure_graph(n: int, tools: list[Tool], base: Path, phases=PHASES) -> GraphResult:
    g = gen.build_graph(n)
    outputs = g.outputs
    heavy = HEAVY_REPEAT if n > 2000 else REPEAT
    reps = {"full": heavy, "noop": REPEAT, "incr": REPEAT, "restore": heavy}
    ws: dict[str, Path] = {}
    for t in tools:
        ws[t.name] = base / f"n{n}-{t.name}"
        if ws[t.name].exists():
            shutil.rmtree(ws[t.name])
        gen.write_workspace(g, str(ws[t.name]), t.formats)
    figs = {t.name: {p: Fig() for p in phases} for t in tools}
    checks: dict[str, dict[str, bool]] = {}
    broken: dict[str, str] = {}
    leaf_original = (ws[tools[0].name] / g.leaf).read_text()

    def run(t: Tool, phase: str) -> None:
        try:
            dt = timed(t.argv, ws[t.name])
            figs[t.name][phase].runs.append(dt)
            log(f"  [N={n}] {phase:8} {t.name:9} {fmt_t(dt)}")
        except RunError as e:
            broken[t.name] = f"{phase}: {e}"
            figs[t.name][phase].error = f"{PHASE_TITLES[phase]}: {e}"
            log(f"  [N={n}] {phase:8} {t.name:9} ERROR {e}")

    def check(phase: str) -> None:
        live = [t for t in tools if t.name not in broken]
        if not live:
            return
        digests = {t.name: tree_digest(ws[t.name], outputs) for t in live}
        ref = digests[live[0].name]
        checks[phase] = {name: (d == ref and not d.startswith("MISSING")) for name, d in digests.items()}
        bad = [k for k, ok in checks[phase].items() if not ok]
        if bad:
            log(f"  [N={n}] outputs after {phase} differ from {live[0].name}'s: {', '.join(bad)}")

    for phase in phases:
        for rep in range(reps[phase]):
            for t in tools:
                if t.name in broken:
                    continue
                if phase == "full":
                    delete_outputs(ws[t.name], outputs)
                    for s in t.state:
                        p = ws[t.name] / s
                        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
                elif phase == "incr":
                    (ws[t.name] / g.leaf).write_text(f"{leaf_original.strip()} changed {rep + 1}\n")
                elif phase == "restore":
                    delete_outputs(ws[t.name], outputs)
                run(t, phase)
        check(phase)
        if phase == "incr":  # put the leaf back and catch up, untimed
            for t in tools:
                (ws[t.name] / g.leaf).write_text(leaf_original)
                if t.name not in broken:
                    try:
                        timed(t.argv, ws[t.name])
                    except RunError as e:
                        broken[t.name] = f"after incr: {e}"
                        figs[t.name]["incr"].error = f"catching up after the leaf was restored: {e}"

    return GraphResult(n, g.leaf_reach, g.layers, figs, checks)


# ---------------------------------------------------------------- DVC

@dataclass
class DvcResult:
    n: int
    version: str
    figs: dict[str, Fig]
    error: str | None = None
    outputs_ok: bool | None = None


def measure_dvc(n: int, dvc: str, base: Path, ninja_ref: str | None) -> DvcResult:
    g = gen.build_graph(n)
    ws = base / f"dvc-{n}"
    if ws.exists():
        shutil.rmtree(ws)
    gen.write_workspace(g, str(ws), ("dvc",))
    version = version_of([dvc]) or "?"
    figs = {k: Fig() for k in ("full", "noop", "checkout", "repro")}
    res = DvcResult(n, version, figs)
    try:
        for argv in (["git", "init", "-q"], [dvc, "init", "-q"],
                     [dvc, "config", "core.analytics", "false"],
                     [dvc, "config", "core.check_update", "false"]):
            subprocess.run(argv, cwd=ws, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=TOOL_ENV)
        log(f"  [DVC {n}] full dvc repro (about 0.4 s per stage)")
        figs["full"].runs.append(timed([dvc, "repro", "-q"], ws))
        log(f"  [DVC {n}] full     {fmt_t(figs['full'].runs[-1])}")
        for _ in range(REPEAT):
            figs["noop"].runs.append(timed([dvc, "repro", "-q"], ws))
            log(f"  [DVC {n}] noop     {fmt_t(figs['noop'].runs[-1])}")
        for _ in range(REPEAT):
            delete_outputs(ws, g.outputs)
            figs["checkout"].runs.append(timed([dvc, "checkout", "-q"], ws))
            log(f"  [DVC {n}] checkout {fmt_t(figs['checkout'].runs[-1])}")
        digest = tree_digest(ws, g.outputs)
        res.outputs_ok = (digest == ninja_ref) if ninja_ref else None
        if DVC_REPRO:
            delete_outputs(ws, g.outputs)
            log(f"  [DVC {n}] dvc repro restoring from its run cache (about 0.75 s per stage)")
            figs["repro"].runs.append(timed([dvc, "repro", "-q"], ws))
            log(f"  [DVC {n}] repro    {fmt_t(figs['repro'].runs[-1])}")
    except (RunError, subprocess.CalledProcessError, OSError) as e:
        res.error = str(e)
        log(f"  [DVC {n}] ERROR {e}")
    return res


# ---------------------------------------------------------------- start-up and hashing

def startup_ms(argv: list[str], base: Path) -> float | None:
    """Median wall time of `argv` in ms (hyperfine if present, else perf_counter)."""
    if subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=TOOL_ENV).returncode:
        return None
    hf = shutil.which("hyperfine")
    if hf:
        out = base / "hyperfine.json"
        cmd = " ".join(shlex.quote(a) for a in argv)
        r = subprocess.run([hf, "-N", "--warmup", "5", "--runs", "100", "--style", "none",
                            "--export-json", str(out), cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=TOOL_ENV)
        if r.returncode == 0:
            try:
                return json.loads(out.read_text())["results"][0]["median"] * 1000
            except (OSError, KeyError, IndexError, ValueError):
                pass
    runs = []
    for i in range(105):
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=TOOL_ENV)
        if r.returncode != 0:
            return None
        if i >= 5:
            runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1000


HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass
class HashResult:
    mib: int
    openssl: Fig
    pipeline: Fig
    agree: bool | None = None
    # `pipeline pack verify` of a run pack carrying the same bytes, against openssl over the pack.
    verify: Fig = field(default_factory=Fig)
    verify_openssl: Fig = field(default_factory=Fig)
    verify_rss_kib: int | None = None
    verify_small_rss_kib: int | None = None  # the same command on a 2 KiB pack (tck/v1)
    pack_bytes: int | None = None


def measure_hash(mib: int, pipeline: str | None, base: Path) -> HashResult:
    path = base / "hash-test.bin"
    log(f"  [hash] writing {mib} MiB test file")
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(mib):
            f.write(block[i % 251:] + block[:i % 251])   # no two MiB alike
    res = HashResult(mib, Fig(), Fig())
    want = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            want.update(chunk)
    want_hex = want.hexdigest()

    def run(argv: list[str]) -> tuple[float, str]:
        t0 = time.perf_counter()
        r = subprocess.run(argv, capture_output=True, text=True, env=TOOL_ENV)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise RunError(f"exit {r.returncode}: {r.stderr.strip()[-300:]}")
        m = HEX64.search(r.stdout.lower())
        return dt, (m.group(0) if m else "")

    openssl = shutil.which("openssl")
    if not openssl:
        res.openssl.error = "openssl not found"
    if not pipeline:
        res.pipeline.error = "no pipeline binary"
    for rep in range(REPEAT):
        if not res.openssl.error:
            try:
                dt, hx = run([openssl, "dgst", "-sha256", str(path)])
                if hx != want_hex:
                    raise RunError("openssl printed a different digest")
                res.openssl.runs.append(dt)
                log(f"  [hash] openssl  {fmt_t(dt)}")
            except RunError as e:
                res.openssl.error = str(e)
        if not res.pipeline.error:
            try:
                dt, hx = run([pipeline, "hash", str(path)])  # type: ignore[list-item]
                res.agree = hx == want_hex
                if not res.agree:
                    raise RunError(f"`pipeline hash` printed {hx or 'no digest'}, expected {want_hex}")
                res.pipeline.runs.append(dt)
                log(f"  [hash] pipeline {fmt_t(dt)}")
            except RunError as e:
                res.pipeline.error = str(e)
                log(f"  [hash] pipeline ERROR {e}")
    if pipeline and openssl:
        try:
            measure_verify(res, path, pipeline, openssl, base)
        except RunError as e:
            res.verify.error = str(e)
            log(f"  [verify] ERROR {e}")
    path.unlink(missing_ok=True)
    return res


def measure_verify(res: HashResult, data: Path, pipeline: str, openssl: str, base: Path) -> None:
    """Packs `data` (as the input of a captured command) and times `pack verify` against
    `openssl dgst -sha256` over the same pack; peak RSS of verify from wait4."""
    ws = base / "verify-ws"
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir()
    os.link(data, ws / "data.bin") if data.stat().st_dev == ws.stat().st_dev else shutil.copyfile(data, ws / "data.bin")
    cap = subprocess.run([pipeline, "capture", "--store", ".pipeline", "--input", "data.bin", "--", "/bin/true"],
                         cwd=ws, capture_output=True, text=True, env=TOOL_ENV)
    job = next((l[4:] for l in cap.stderr.splitlines() if l.startswith("job ")), None)
    if cap.returncode != 0 or not job:
        raise RunError(f"capture failed: {cap.stderr.strip()[-300:]}")
    built = subprocess.run([pipeline, "pack", "build", "--type", "run", "--from", str(ws / ".pipeline" / "jobs" / job), "--out", "dist"],
                           cwd=ws, capture_output=True, text=True, env=TOOL_ENV)
    if built.returncode != 0:
        raise RunError(f"pack build failed: {built.stderr.strip()[-300:]}")
    pack = built.stdout.strip()
    res.pack_bytes = os.path.getsize(pack)
    (ws / "data.bin").unlink()
    shutil.rmtree(ws / ".pipeline", ignore_errors=True)

    def timed(argv: list[str]) -> tuple[float, int]:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=TOOL_ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise RunError(f"{argv[0]} {argv[1]}: exit {os.waitstatus_to_exitcode(status)}")
        return dt, usage.ru_maxrss

    small = Path(__file__).resolve().parent.parent / "tck" / "v1" / "packs" / "valid_run.zip"
    if small.exists():
        res.verify_small_rss_kib = timed([pipeline, "pack", "verify", str(small)])[1]
    for _ in range(REPEAT):
        dt, _ = timed([openssl, "dgst", "-sha256", pack])
        res.verify_openssl.runs.append(dt)
        dt, rss = timed([pipeline, "pack", "verify", pack])
        res.verify.runs.append(dt)
        res.verify_rss_kib = max(res.verify_rss_kib or 0, rss)
        log(f"  [verify] openssl {fmt_t(res.verify_openssl.runs[-1])}  pipeline pack verify {fmt_t(dt)}  peak RSS {rss} KiB")
    shutil.rmtree(ws, ignore_errors=True)


# ---------------------------------------------------------------- report

def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def main() -> int:
    started = time.perf_counter()
    ensure_peers()
    pbin_env = os.environ.get("PIPELINE_BIN")
    pbin = Path(pbin_env).expanduser().resolve() if pbin_env else REPO / ".build/release/pipeline"
    pipeline = str(pbin) if pbin.is_file() and os.access(pbin, os.X_OK) else None
    pipeline_version = version_of([pipeline]) if pipeline else None
    if not pipeline:
        log(f"pipeline binary not found at {pbin}: measuring the peers only")
    elif "libswiftCore" in subprocess.run(["ldd", pipeline], capture_output=True, text=True).stdout:
        # A dynamic Swift runtime costs 10-15 ms of start-up (symbol binding, conformance
        # scans); users get the static build scripts/install makes, so that is what counts.
        log("warning: the pipeline binary links the Swift runtime dynamically; build it as scripts/install does: "
            "swift build -c release --product pipeline --static-swift-stdlib")

    ninja = find_tool("ninja")
    make = find_tool("make")
    dvc = find_tool("dvc")
    tools: list[Tool] = []
    if ninja:
        tools.append(Tool("ninja", [ninja[0], f"-j{JOBS}"], [".ninja_log", ".ninja_deps"], ("ninja",)))
    if make:
        tools.append(Tool("make", [make[0], f"-j{JOBS}"], [], ("make",)))
    if pipeline:
        tools.append(Tool("pipeline", [pipeline, "run", "-j", str(JOBS)], [".pipeline"], ("pipeline",)))
    if not tools:
        log("no tool to measure")
        return 1

    tmp_root = os.environ.get("BENCH_TMPDIR") or None
    base = Path(tempfile.mkdtemp(prefix="pipeline-bench-", dir=tmp_root))
    log(f"scratch workspaces in {base}")
    try:
        graphs = []
        for n in SIZES:
            log(f"== {n} steps")
            graphs.append(measure_graph(n, tools, base))

        dvc_res = dvc_peers = None
        if DVC_SIZE > 0 and dvc:
            log(f"== DVC comparison, {DVC_SIZE} stages")
            peers = [t for t in tools if t.name in ("ninja", "pipeline")]
            if peers:
                dvc_peers = measure_graph(DVC_SIZE, peers, base, ("full", "noop", "restore"))
            ref = None
            if ninja:
                ref = tree_digest(base / f"n{DVC_SIZE}-ninja", gen.build_graph(DVC_SIZE).outputs)
            dvc_res = measure_dvc(DVC_SIZE, dvc[0], base, ref)

        log("== start-up")
        startup = {}
        if pipeline:
            startup["pipeline --version"] = startup_ms([pipeline, "--version"], base)
        if ninja:
            startup["ninja --version"] = startup_ms([ninja[0], "--version"], base)
        if make:
            startup["make --version"] = startup_ms([make[0], "--version"], base)

        hash_res = None
        if HASH_MIB > 0:
            log("== SHA-256")
            hash_res = measure_hash(HASH_MIB, pipeline, base)
    finally:
        if KEEP:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    elapsed = time.perf_counter() - started
    md = report(graphs, dvc_res, dvc_peers, startup, hash_res, pipeline, pipeline_version, pbin,
                ninja, make, dvc, elapsed)
    print(md)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(md)
    log(f"wrote {RESULTS} ({elapsed:.0f} s)")
    return 0


def report(graphs, dvc_res, dvc_peers, startup, hash_res, pipeline, pipeline_version, pbin,
           ninja, make, dvc, elapsed) -> str:
    L: list[str] = []
    targets: list[tuple[str, str, str]] = []   # (target, measured, verdict)
    L += ["# Benchmark results", "",
          "Reproduce from the repository root with `python3 bench/run.py` (knobs and the meaning",
          "of each figure: `bench/README.md`). Medians; wall-clock time.", "",
          f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; total run {elapsed:.0f} s",
          f"- machine: {machine()}",
          f"- pipeline: {pipeline_version + ' (' + pipeline + ')' if pipeline else f'n/a (no binary at {pbin})'}",
          f"- ninja: {ninja[1] + ' (' + ninja[0] + ')' if ninja else 'n/a'}",
          f"- make: {make[1] + ' (' + make[0] + ')' if make else 'n/a'}",
          f"- dvc: {dvc[1] + ' (' + dvc[0] + ')' if dvc else 'n/a'}",
          f"- settings: sizes {' '.join(map(str, SIZES))}, {REPEAT} runs per figure "
          f"({HEAVY_REPEAT} for full build and restore-all above 2,000 steps), -j{JOBS}",
          "- graph: `bench/gen.py`, 10 layers, each step `cksum IN1 IN2 IN3 > OUT` over the previous layer",
          ""]

    def rule_for(n: int, phase: str) -> tuple[str, float] | None:
        if phase == "noop" and n == 10000:
            return "≤ 1.5x ninja", 1.5
        if phase == "incr":
            return "≤ 2x ninja", 2.0
        if phase == "full" and n == 1000:
            return "≤ 1.5x ninja", 1.5
        return None

    for gr in graphs:
        L += [f"## {gr.n:,} steps", "",
              "| scenario | ninja | make | pipeline | pipeline/ninja | pipeline/make | target |",
              "|---|---:|---:|---:|---:|---:|---|"]
        for phase in PHASES:
            title = PHASE_TITLES[phase]
            if phase == "incr":
                title += f" ({gr.reach} steps rerun)"
            if phase == "restore":
                title += " (pipeline: from cache; ninja, make: rebuild)"
            med = {t: (gr.figs[t][phase].median if t in gr.figs else None) for t in ("ninja", "make", "pipeline")}
            outputs_ok = gr.checks.get(phase, {}).get("pipeline")
            tgt = ""
            rule = rule_for(gr.n, phase)
            if rule:
                ok = None
                if med["pipeline"] is not None and med["ninja"] is not None:
                    ok = med["pipeline"] / med["ninja"] <= rule[1] and outputs_ok is not False
                tgt = f"{rule[0]}: {verdict(ok)}"
                targets.append((f"{PHASE_TITLES[phase]}, {gr.n:,} steps, {rule[0]}",
                                fmt_r(med["pipeline"], med["ninja"]), verdict(ok)))
            L.append(f"| {title} | {fmt_t(med['ninja'])} | {fmt_t(med['make'])} | {fmt_t(med['pipeline'])} "
                     f"| {fmt_r(med['pipeline'], med['ninja'])} | {fmt_r(med['pipeline'], med['make'])} | {tgt} |")
        L.append("")
        for tool, fs in gr.figs.items():
            errs = {f.error for f in fs.values() if f.error}
            for e in errs:
                L.append(f"- {tool} failed: `{e}`")
        for phase, per_tool in gr.checks.items():
            bad = [t for t, ok in per_tool.items() if not ok]
            L.append(f"- outputs after {PHASE_TITLES[phase].split(',')[0].split(' (')[0]}: "
                     + ("identical across tools" if not bad else "**differ**: " + ", ".join(bad)))
        L.append("")

    if dvc_res:
        n = dvc_res.n
        L += [f"## Restore all outputs vs DVC, {n} stages", "",
              "Per stage = total / stages. Target: pipeline's restore at least 30x faster per stage",
              "than DVC's faster way (`dvc checkout`; `dvc repro` restores from its run cache too).", "",
              "| scenario | DVC | per stage | ninja | pipeline | per stage | DVC/pipeline per stage |",
              "|---|---:|---:|---:|---:|---:|---:|"]
        pf = dvc_peers.figs if dvc_peers else {}

        def med(tool, phase):
            return pf[tool][phase].median if tool in pf else None

        rows = [("full build", "full", "full"), ("no-op", "noop", "noop"),
                ("restore all: `dvc checkout`", "checkout", "restore"),
                ("restore all: `dvc repro`", "repro", "restore")]
        for title, dk, pk in rows:
            d = dvc_res.figs[dk].median
            if dk == "repro" and not DVC_REPRO:
                continue
            p = med("pipeline", pk)
            L.append(f"| {title} | {fmt_t(d)} | {fmt_t(d / n if d is not None else None)} "
                     f"| {fmt_t(med('ninja', pk))} | {fmt_t(p)} | {fmt_t(p / n if p is not None else None)} "
                     f"| {fmt_r(d, p)} |")
        L.append("")
        if dvc_res.error:
            L.append(f"- DVC failed: `{dvc_res.error}`")
        if dvc_res.outputs_ok is not None:
            L.append(f"- DVC outputs after checkout: {'identical to ninja' + chr(39) + 's' if dvc_res.outputs_ok else '**differ from ninja**'}")
        if dvc_peers:
            for phase, per_tool in dvc_peers.checks.items():
                bad = [t for t, ok in per_tool.items() if not ok]
                if bad:
                    L.append(f"- outputs after {phase}: **differ**: {', '.join(bad)}")
            for tool, fs in dvc_peers.figs.items():
                for e in {f.error for f in fs.values() if f.error}:
                    L.append(f"- {tool} failed: `{e}`")
        L.append("")
        cands = [x for x in (dvc_res.figs["checkout"].median, dvc_res.figs["repro"].median) if x is not None]
        p = med("pipeline", "restore")
        ok = None
        if cands and p:
            ok = min(cands) / p >= 30 and (not dvc_peers or dvc_peers.checks.get("restore", {}).get("pipeline") is not False)
        targets.append((f"restore all, {n} stages, ≥ 30x faster per stage than DVC",
                        fmt_r(min(cands) if cands else None, p), verdict(ok)))

    L += ["## Start-up", "", "| command | median |", "|---|---:|"]
    for k, v in startup.items():
        L.append(f"| `{k}` | {'n/a' if v is None else f'{v:.2f} ms'} |")
    L.append("")
    pv = startup.get("pipeline --version")
    targets.append(("`pipeline --version` ≤ 15 ms", "n/a" if pv is None else f"{pv:.2f} ms",
                    verdict(None if pv is None else pv <= 15)))

    if hash_res:
        gib = hash_res.mib / 1024
        o, p = hash_res.openssl.median, hash_res.pipeline.median
        L += [f"## SHA-256 of a {hash_res.mib} MiB file (in page cache)", "",
              "| command | median | throughput |", "|---|---:|---:|",
              f"| `openssl dgst -sha256` | {fmt_t(o)} | {'n/a' if not o else f'{gib / o:.2f} GiB/s'} |",
              f"| `pipeline hash` | {fmt_t(p)} | {'n/a' if not p else f'{gib / p:.2f} GiB/s'} |", ""]
        for who, f in (("openssl", hash_res.openssl), ("pipeline", hash_res.pipeline)):
            if f.error:
                L.append(f"- {who}: `{f.error}`")
        L.append("")
        share = (o / p) if (o and p) else None
        targets.append(("SHA-256 throughput ≥ 90% of openssl",
                        "n/a" if share is None else f"{share * 100:.0f}%",
                        verdict(None if share is None else share >= 0.9)))
        vo, vp = hash_res.verify_openssl.median, hash_res.verify.median
        size = (hash_res.pack_bytes or 0) / (1 << 30)
        L += [f"## Pack verify of a run pack carrying the {hash_res.mib} MiB file ({size:.3f} GiB zip, in page cache)", "",
              "| command | median | throughput | peak RSS |", "|---|---:|---:|---:|",
              f"| `openssl dgst -sha256 pack.zip` | {fmt_t(vo)} | {'n/a' if not vo else f'{size / vo:.2f} GiB/s'} | |",
              f"| `pipeline pack verify pack.zip` | {fmt_t(vp)} | {'n/a' if not vp else f'{size / vp:.2f} GiB/s'} "
              f"| {'n/a' if hash_res.verify_rss_kib is None else f'{hash_res.verify_rss_kib / 1024:.1f} MiB'} |", ""]
        if hash_res.verify_small_rss_kib:
            L.append(f"- peak RSS of the same command on a {(Path(__file__).resolve().parent.parent / 'tck/v1/packs/valid_run.zip').stat().st_size} byte pack: "
                     f"{hash_res.verify_small_rss_kib / 1024:.1f} MiB (memory does not grow with the pack)")
        if hash_res.verify.error:
            L.append(f"- verify: `{hash_res.verify.error}`")
        vshare = (vo / vp) if (vo and vp) else None
        targets.append(("pack verify throughput ≥ 80% of openssl, constant memory",
                        "n/a" if vshare is None else f"{vshare * 100:.0f}%, {(hash_res.verify_rss_kib or 0) / 1024:.0f} MiB RSS",
                        verdict(None if vshare is None else vshare >= 0.8 and (hash_res.verify_rss_kib or 0) < 64 * 1024)))

    L += ["## Targets", "", "| target | measured | verdict |", "|---|---:|---|"]
    for t, m, v in targets:
        L.append(f"| {t} | {m} | {v} |")
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
