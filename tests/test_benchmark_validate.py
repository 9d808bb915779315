"""benchmarks/validate.py runs the validator as a worker would and checks issue #18's targets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "validate.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("validate_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(seconds: float, peak_mb: float = 100.0, **extra) -> dict:
    return {"seconds": seconds, "peak_mb": peak_mb, **extra}


def test_a_small_run_finds_exactly_the_injected_errors_and_prints_each_target(tmp_path):
    """The portal task sets Django up before the validator (its messages are translatable;
    without it the run stopped with AppRegistryNotReady) and the report says each target."""
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "16000", "--skip-frictionless", "--repeat", "1"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode in (0, 2), run.stderr[-2000:]  # 2: a speed target missed, not wrong
    assert "exactly the injected ones: yes" in run.stdout
    assert "target ≤ 5× the plain read + decode:" in run.stdout
    assert "previous build (docs/development/benchmarks.md):" in run.stdout


def test_each_target_is_checked_and_a_missed_one_is_named(capsys):
    benchmark = _benchmark()
    results = {
        "read": _result(0.2),
        "portal": _result(1.2, peak_mb=300),
        "frictionless": _result(48.0, errors=200),
    }
    missed = benchmark._print_targets(results, big=True)
    out = capsys.readouterr().out
    # 6.0× the read, 40× frictionless, 300 MB: all three missed, each with its figure.
    assert missed == [
        "≤ 5× the plain read + decode",
        "≥ 50× faster than frictionless",
        "≤ 256 MB peak at --big",
    ]
    assert "6.0× (1.20 s / 0.20 s) — FAIL" in out
    assert "40.0×" in out
    assert "300 MB — FAIL" in out


def test_targets_met_pass(capsys):
    benchmark = _benchmark()
    results = {
        "read": _result(0.2),
        "portal": _result(0.9, peak_mb=200),
        "frictionless": _result(50.0, errors=200),
    }
    assert benchmark._print_targets(results, big=True) == []
    assert capsys.readouterr().out.count("— pass") == 3
