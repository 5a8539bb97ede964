"""bench/pipeline.py's memory figure: the peak of a whole process tree, per stage label."""

import importlib
import subprocess
import sys

import pytest

from tests.helpers import ROOT

HOLD = "import sys, time; block = b'x' * ({mb} * 2**20); print('ready', flush=True); time.sleep({s})"


@pytest.fixture
def pipeline(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # the bench scripts import each other by name
    return importlib.import_module("pipeline")


def test_the_peak_counts_the_grandchildren_and_is_kept_per_stage(pipeline):
    # a parent (like dvc) starting a child (like a stage) that holds 300 MB, then one holding 100 MB
    first, second = HOLD.format(mb=300, s=1.5), HOLD.format(mb=100, s=1.5)
    script = (f"import subprocess, sys; subprocess.run([sys.executable, '-c', {first!r}]); "
              f"print('next', flush=True); subprocess.run([sys.executable, '-c', {second!r}])")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    memory = pipeline.PeakMemory(proc.pid, every_s=0.1)
    for line in proc.stdout:
        memory.label = {"ready": memory.label or "first", "next": "second"}.get(line.strip(), memory.label)
    proc.wait()
    peaks = memory.stop()
    assert set(peaks) == {"first", "second"}
    assert 0.29 <= peaks["first"] < 0.5  # the 300 MB grandchild with the two Pythons above it
    assert 0.1 <= peaks["second"] < peaks["first"] - 0.1


SHARE = ("import os, time; block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); "
         "pid = os.fork(); print('ready', flush=True) if pid else None; time.sleep(1.5); "
         "os.waitpid(pid, 0) if pid else os._exit(0)")


def test_pages_a_parent_shares_with_its_fork_count_once(pipeline):
    # 300 MB written before the fork: both processes map the same pages (copy-on-write),
    # so their resident sets add up to 600 MB, but the tree holds 300 MB
    proc = subprocess.Popen([sys.executable, "-c", SHARE], stdout=subprocess.PIPE, text=True)
    memory = pipeline.PeakMemory(proc.pid, every_s=0.1)
    for line in proc.stdout:
        memory.label = "shared" if line.strip() == "ready" else memory.label
    proc.wait()
    assert 0.29 <= memory.stop()["shared"] < 0.45
