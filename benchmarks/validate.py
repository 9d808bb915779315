"""Benchmark of the portal's validator against `frictionless validate` and a plain read.

    .venv/bin/python benchmarks/validate.py            # 2,000,000 rows, 12 columns (~190 MB)
    .venv/bin/python benchmarks/validate.py --big      # ~2 GB
    .venv/bin/python benchmarks/validate.py --skip-frictionless --repeat 1

It generates a synthetic Dagtilbud extract (made-up CPR-like numbers only) with known injected
errors, then runs, each in its own process so that peak memory is that task's alone:

- the portal's validator (`deliveries.validation.validate_file`) with the shipped contract,
- `frictionless` validating the same file with the contract's Table Schema,
- a plain read + UTF-8 decode of the file (the floor any validator has to pay),

and prints rows/s, MB/s, peak memory (ru_maxrss of the child, read with
`getrusage(RUSAGE_CHILDREN)` in a small wrapper process), the ratios against the references
measured in the same run, and whether each target of issue #18 is met (≥ 50× frictionless,
≤ 5× the time of the plain read + decode, ≤ 256 MB peak at `--big`). The time of a task is
the work itself, measured in the child after its imports (a worker has Django and polars loaded
already); the whole process's time is printed beside it. It also checks that the portal found
exactly the injected errors.

`--previous DIR` also runs the validator of another checkout (e.g. `git worktree add` of the
previous commit) on the same extract, alternating with this one run by run, so that both see
the same load; the load average is printed with every figure. frictionless is installed into
the venv on first use (`pip install .[bench]` does the same).

Exit status: 1 if the portal did not find exactly the injected errors, 2 if a target was
missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
# The checkout whose validator a child process runs: this one, or the one of `--previous`.
ROOT = Path(os.environ.get("FLIS_BENCH_ROOT", HERE))
sys.path.insert(0, str(ROOT))
CONTRACT = ROOT / "deliveries" / "contracts" / "dagtilbud.json"
KOMMUNE = "101"
PERIOD = "2026-10"
CHUNK_ROWS = 1_000_000
FRICTIONLESS = "frictionless>=5.18,<6"

# Issue #18's targets for the default extract (speed) and for `--big` (memory).
TARGET_VS_FRICTIONLESS = 50.0  # at least this many times faster
TARGET_VS_READ = 5.0  # at most this many times the plain read + decode
TARGET_BIG_PEAK_MB = 256.0

# The build before the row screen (a95c237, the ninth session's final main), measured with
# this script's `--previous` on 2026-12-05 on a quiet 2-core machine, in the same runs as the
# "Tenth session" figures in docs/development/benchmarks.md.
PREVIOUS = {
    "default": "a95c237: 0.99 s best of 3 (this build 0.43 s), read 0.13 s (7.6x), frictionless "
    "55.3 s (55.9x), peak 278 MB",
    "big": "a95c237: 16.45 s (this build 3.96 s in the same run), read 1.54 s (10.7x), "
    "peak 273 MB (this build 182 MB)",
}

# Each injected error: (kind, offset in each block of `every` rows, column, rule)
INJECTIONS = [
    ("impossible_date", 1000, "startdato", "date"),
    ("bad_enum", 2000, "pasningstilbud", "enum"),
    ("cpr_day_32", 3000, "cpr_barn", "cpr"),
    ("decimal_point", 4000, "timer_pr_uge", "type"),
    ("other_kommune", 5000, "kommunekode", "kommune"),
    ("ends_before_start", 6000, "slutdato", "gte"),
    ("duplicate_key", 7000, "cpr_barn", "primaryKey"),
]


# --- generating the extract --------------------------------------------------------------------


def _chunk(start: int, count: int, every: int):
    import polars as pl

    i = pl.int_range(start, start + count, eager=True).alias("i")
    df = pl.DataFrame({"i": i})
    z2 = lambda e: e.cast(pl.String).str.zfill(2)  # noqa: E731
    z4 = lambda e: e.cast(pl.String).str.zfill(4)  # noqa: E731
    idx = pl.col("i")
    # A CPR-like number unique per row that cannot belong to anyone: a real date in 2038–2057
    # (7th digit 5–8 with YY ≤ 57 means the 2000s) and a made-up serial 5000–8999.
    day = (idx // 4_000) % 28 + 1
    month = (idx // 112_000) % 12 + 1
    yy = (idx // 1_344_000) % 20 + 38
    serial = idx % 4_000 + 5_000
    tilbud = pl.Series(
        [
            "dagpleje",
            "vuggestue",
            "boernehave",
            "aldersintegreret",
            "sfo",
            "fritidshjem",
            "fritidsklub",
            "klub",
            "puljeordning",
        ]
    )
    ejer = pl.Series(["kommunal", "selvejende", "privat", "udliciteret", "puljeordning"])
    pos = idx % every
    prev = idx - 1
    cpr = pl.format("{}{}{}{}", z2(day), z2(month), z2(yy), z4(serial))
    prev_cpr = pl.format(
        "{}{}{}{}",
        z2((prev // 4_000) % 28 + 1),
        z2((prev // 112_000) % 12 + 1),
        z2((prev // 1_344_000) % 20 + 38),
        z4(prev % 4_000 + 5_000),
    )
    enhed = pl.format("E{}", (idx % 90_000 + 10_000).cast(pl.String))
    prev_enhed = pl.format("E{}", (prev % 90_000 + 10_000).cast(pl.String))
    start_date = pl.format("2025-{}-{}", z2(idx % 12 + 1), z2(idx % 28 + 1))
    is_ = {kind: pos == offset for kind, offset, _, _ in INJECTIONS}
    out = df.select(
        kommunekode=pl.when(is_["other_kommune"]).then(pl.lit("751")).otherwise(pl.lit(KOMMUNE)),
        periode=pl.lit(PERIOD.replace("-", "")),
        cpr_barn=pl.when(is_["cpr_day_32"])
        .then(pl.format("32{}{}{}", z2(month), z2(yy), z4(serial)))
        .when(is_["duplicate_key"])
        .then(prev_cpr)
        .otherwise(cpr),
        daginstitutionsnummer=pl.format("G{}", (idx % 90_000 + 10_000).cast(pl.String)),
        anvisningsenhedsnummer=pl.when(is_["duplicate_key"]).then(prev_enhed).otherwise(enhed),
        pasningstilbud=pl.when(is_["bad_enum"])
        .then(pl.lit("vuggestu"))
        .otherwise(pl.lit(tilbud).gather(idx % 9)),
        ejerform=pl.lit(ejer).gather(idx % 5),
        startdato=pl.when(is_["impossible_date"]).then(pl.lit("2023-02-30")).otherwise(start_date),
        slutdato=pl.when(is_["ends_before_start"])
        .then(pl.lit("2024-01-01"))
        .when(idx % 3 == 0)
        .then(pl.lit("2026-12-31"))
        .otherwise(pl.lit(None, pl.String)),
        timer_pr_uge=pl.when(is_["decimal_point"])
        .then(pl.lit("30.5"))
        .otherwise(pl.format("{},{}", (idx % 40 + 10).cast(pl.String), (idx % 10).cast(pl.String))),
        pladstype=pl.when(idx % 4 == 0).then(pl.lit("deltid")).otherwise(pl.lit("fuldtid")),
        friplads=pl.when(idx % 7 == 0).then(pl.lit("delvis")).otherwise(pl.lit("ingen")),
    )
    return out


def generate(path: Path, rows: int) -> tuple[int, set[tuple[int, str, str]]]:
    every = max(rows // 50, 8000)
    injected: set[tuple[int, str, str]] = set()
    with path.open("wb") as handle:
        for start in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - start)
            _chunk(start, count, every).write_csv(
                handle, separator=";", include_header=start == 0, null_value=""
            )
    for block in range(0, rows, every):
        for _kind, offset, column, rule in INJECTIONS:
            if block + offset < rows:
                injected.add((block + offset + 2, column, rule))  # header is row 1
    return every, injected


# --- tasks, each run in its own process ----------------------------------------------------


def task_portal(path: Path) -> dict:
    from deliveries.validation import validate_file

    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    report = validate_file(path, contract, kommune_code=KOMMUNE, period=PERIOD, max_listed=100_000)
    return {
        "rows": report.rows_checked,
        "errors": report.error_count,
        "found": sorted([i.row, i.column, i.rule] for i in report.issues),
        "by_rule": dict(report.by_rule),
    }


def task_frictionless(path: Path) -> dict:
    from frictionless import Resource, Schema, formats

    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    resource_ = Resource(
        path=path.name,
        basepath=str(path.parent),  # frictionless refuses absolute paths as "not safe"
        schema=Schema.from_descriptor(contract["schema"]),
        control=formats.CsvControl(delimiter=";"),
    )
    report = resource_.validate(limit_errors=100_000)
    task = report.tasks[0]
    return {
        "rows": task.stats.get("rows"),
        "errors": task.stats.get("errors"),
        "valid": report.valid,
    }


def task_read(path: Path) -> dict:
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            decoder.decode(chunk)
            lines += chunk.count(b"\n")
    return {"rows": lines - 1}


TASKS = {"portal": task_portal, "frictionless": task_frictionless, "read": task_read}


def measure(task: str, path: Path, repeat: int = 1, root: Path | None = None) -> dict:
    """Runs one task `repeat` times, each in a fresh wrapper process that starts it as its own
    child; keeps the fastest run (the one least disturbed by other work on the machine) and
    the highest peak RSS of the runs."""
    runs = [_measure_once(task, path, root) for _ in range(repeat)]
    return _best(runs)


def _best(runs: list[dict]) -> dict:
    best = dict(min(runs, key=lambda run: run["seconds"]))
    best["peak_mb"] = max(run["peak_mb"] for run in runs)
    best["all_seconds"] = [round(run["seconds"], 2) for run in runs]
    best["loads"] = [run["load"] for run in runs]
    return best


def _measure_once(task: str, path: Path, root: Path | None = None) -> dict:
    """One run: the wrapper reports the child's times and peak RSS (RUSAGE_CHILDREN)."""
    root = root or HERE
    wrapper = subprocess.run(
        [sys.executable, __file__, "_wrap", task, str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(root), "FLIS_BENCH_ROOT": str(root)},
    )
    if wrapper.returncode != 0:
        raise SystemExit(f"{task} failed:\n{wrapper.stderr[-3000:]}")
    result = json.loads(wrapper.stdout.strip().splitlines()[-1])
    result["load"] = round(os.getloadavg()[0], 1)
    return result


def _wrap(task: str, path: str) -> None:
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, __file__, "_run", task, path],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
    )
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        sys.stderr.write(child.stderr)
        raise SystemExit(child.returncode)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result["process_seconds"] = elapsed
    # Linux reports ru_maxrss in KiB.
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


def _run(task: str, path: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flisportal.settings")
    if task == "portal":
        # The validator's messages are translatable texts: Django must be set up, as in the
        # worker, before the clock starts.
        import django

        django.setup()
        from django.utils import translation

        import deliveries.validation  # noqa: F401
        from deliveries import screen

        # A worker's system checks at start-up build (once per host) and load the row
        # screen's kernel (flisportal.W003); its forked job processes inherit it.
        screen.kernel()
        # A worker has its message catalogues loaded after its first job.
        for language in ("da", "en"):
            with translation.override(language):
                pass
    elif task == "frictionless":
        import frictionless  # noqa: F401
    started = time.perf_counter()
    result = TASKS[task](Path(path))
    result["seconds"] = time.perf_counter() - started
    print(json.dumps(result))


def ensure_frictionless() -> None:
    try:
        import frictionless  # noqa: F401
    except ImportError:
        print(f"installing {FRICTIONLESS} into {sys.prefix} …", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", FRICTIONLESS], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--big", action="store_true", help="about 2 GB (23,500,000 rows)")
    parser.add_argument("--skip-frictionless", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the extract here and keep it")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per task; the fastest counts (default 3)"
    )
    parser.add_argument(
        "--previous", type=Path, help="a checkout of the previous build, run alternately"
    )
    args = parser.parse_args()
    rows = 23_500_000 if args.big else args.rows
    with tempfile.TemporaryDirectory(prefix="flis-bench-") as folder:
        path = args.keep or Path(folder) / "dagtilbud.csv"
        started = time.perf_counter()
        every, injected = generate(path, rows)
        size_mb = path.stat().st_size / 1e6
        print(
            f"extract: {rows:,} rows × 12 columns, {size_mb:,.0f} MB, {len(injected)} injected "
            f"errors (one of each of {len(INJECTIONS)} kinds every {every:,} rows); "
            f"generated in {time.perf_counter() - started:.1f} s; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        results = {"read": measure("read", path, args.repeat)}
        results.update(_portal_runs(path, args.repeat, args.previous))
        if not args.skip_frictionless:
            ensure_frictionless()
            results["frictionless"] = measure("frictionless", path, args.repeat)
        _print_table(results, rows, size_mb)
        exact = _check_found(results["portal"], injected)
        if "previous" in results:
            _check_found(results["previous"], injected, label="previous build")
        missed = _print_targets(results, big=args.big)
        print(f"previous build (docs/development/benchmarks.md): {PREVIOUS[_size(args)]}")
        if not exact:
            raise SystemExit(1)
        if missed:
            raise SystemExit(2)


def _size(args: argparse.Namespace) -> str:
    return "big" if args.big else "default"


def _portal_runs(path: Path, repeat: int, previous: Path | None) -> dict[str, dict]:
    """This build's validator, and the previous build's alternating with it run by run."""
    if previous is None:
        return {"portal": measure("portal", path, repeat)}
    ours: list[dict] = []
    theirs: list[dict] = []
    for _ in range(repeat):
        theirs.append(_measure_once("portal", path, previous.resolve()))
        ours.append(_measure_once("portal", path))
    return {"portal": _best(ours), "previous": _best(theirs)}


def _print_table(results: dict[str, dict], rows: int, size_mb: float) -> None:
    print(
        f"{'task':<14}{'seconds':>9}{'rows/s':>14}{'MB/s':>9}{'peak MB':>10}"
        f"{'process s':>11}  load average per run"
    )
    for name, result in results.items():
        seconds = result["seconds"]
        print(
            f"{name:<14}{seconds:>9.2f}{rows / seconds:>14,.0f}{size_mb / seconds:>9.1f}"
            f"{result['peak_mb']:>10.0f}{result['process_seconds']:>11.2f}  {result['loads']}"
        )
    runs = "; ".join(f"{name} {result['all_seconds']}" for name, result in results.items())
    print(f"all runs (s), fastest counts: {runs}")


def _check_found(portal: dict, injected: set[tuple[int, str, str]], label: str = "portal") -> bool:
    found = {tuple(item) for item in portal["found"]}
    exact = found == injected and portal["errors"] == len(injected)
    print(
        f"{label} found {portal['errors']} errors {portal['by_rule']}; exactly the injected "
        f"ones: {'yes' if exact else 'NO'}"
    )
    if not exact:
        print(
            "missing:", sorted(injected - found)[:10], "unexpected:", sorted(found - injected)[:10]
        )
    return exact


def _print_targets(results: dict[str, dict], *, big: bool) -> list[str]:
    """Each target this run can check, with its figure and pass or fail; the missed ones."""
    portal = results["portal"]
    checks: list[tuple[str, str, bool]] = []
    vs_read = portal["seconds"] / results["read"]["seconds"]
    checks.append(
        (
            f"≤ {TARGET_VS_READ:g}× the plain read + decode",
            f"{vs_read:.1f}× ({portal['seconds']:.2f} s / {results['read']['seconds']:.2f} s)",
            vs_read <= TARGET_VS_READ,
        )
    )
    if "frictionless" in results:
        fast = results["frictionless"]["seconds"] / portal["seconds"]
        checks.append(
            (
                f"≥ {TARGET_VS_FRICTIONLESS:g}× faster than frictionless",
                f"{fast:.1f}× ({results['frictionless']['seconds']:.1f} s; it found "
                f"{results['frictionless']['errors']} errors: no CPR-date, kommune, cross-field "
                "or primary-key-over-text rules)",
                fast >= TARGET_VS_FRICTIONLESS,
            )
        )
    if big:
        checks.append(
            (
                f"≤ {TARGET_BIG_PEAK_MB:g} MB peak at --big",
                f"{portal['peak_mb']:.0f} MB",
                portal["peak_mb"] <= TARGET_BIG_PEAK_MB,
            )
        )
    if "previous" in results:
        before = results["previous"]
        print(
            f"previous build in this run: {before['seconds']:.2f} s, peak {before['peak_mb']:.0f} "
            f"MB; this build {portal['seconds'] / before['seconds']:.2f}× its time"
        )
    missed = []
    for target, figure, ok in checks:
        print(f"target {target}: {figure} — {'pass' if ok else 'FAIL'}")
        if not ok:
            missed.append(target)
    return missed


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_wrap":
        _wrap(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "_run":
        _run(sys.argv[2], sys.argv[3])
    else:
        main()
