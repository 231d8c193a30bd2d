#!/usr/bin/env python3
"""Kept for .ci/run: the crash campaign now lives in scripts/chaos.d/crash (SIGKILL of
`pipeline run`, `gc`, `pack build` and `job approve/resume`; see its header). This runs it
with CRASH_TRIALS (default there: 100 per command, 5 with CHAOS_SCALE=short)."""
import os
import sys
from pathlib import Path

script = Path(__file__).resolve().parent / "chaos.d" / "crash"
os.execv(sys.executable, [sys.executable, str(script), *sys.argv[1:]])
