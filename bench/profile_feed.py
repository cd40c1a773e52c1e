"""Profile the feed hot paths of the running server: py-spy samples ``feedserver serve`` while
wrk sends 304 (If-None-Match) or 200 requests for one feed, writes a flame graph per path
(``bench/flame-304.svg``, ``bench/flame-200.svg``) and prints, for each path, the feedserver
functions with their share of the samples (inclusive: a function and what it calls).

Usage: python bench/profile_feed.py [--bookings 2000] [--seconds 8] [--connections 8]
Needs wrk and py-spy (pip install py-spy) and the right to trace a child process.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feeds import build, fetch, wait_for_publisher  # noqa: E402
from tests.process import serve  # noqa: E402

ROOTS = ("<module> (", "serve (", "main (", "run_app (")


def shares(collapsed: str) -> list[tuple[str, float]]:
    """(function, inclusive share of samples) for the feedserver functions of py-spy's raw
    (collapsed) output (``frame;frame;frame count`` per line), counting the event loop's
    thread only (the stacks under ``run_app``), and leaving out the entry points."""
    total = 0
    counts: collections.Counter[str] = collections.Counter()
    for line in collapsed.splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit() or "run_app" not in stack:
            continue
        samples = int(number)
        total += samples
        seen = set()
        for frame in stack.split(";"):
            if frame.startswith(ROOTS):
                continue
            if "feedserver/" in frame and "site-packages" not in frame:
                name = frame.split(" (")[0] + " (" + frame.split("feedserver/")[-1].split(":")[0]
                name += ")"
                if name not in seen:
                    seen.add(name)
                    counts[name] += samples
    return [(name, count / total) for name, count in counts.most_common()] if total else []


def profile(
    url: str, headers: dict[str, str], pid: int, seconds: int, connections: int, svg: Path
) -> list[tuple[str, float]]:
    wrk = ["wrk", "-t1", f"-c{connections}", f"-d{seconds + 2}s", url]
    for name, value in headers.items():
        wrk[1:1] = ["-H", f"{name}: {value}"]
    load = subprocess.Popen(wrk, stdout=subprocess.DEVNULL)
    try:
        raw = svg.with_suffix(".txt")
        common = [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "250",
        ]
        subprocess.run(
            [*common, "--format", "raw", "-o", str(raw)], check=True, capture_output=True
        )
        found = shares(raw.read_text())
        raw.unlink()
    finally:
        load.wait()
    load = subprocess.Popen(wrk, stdout=subprocess.DEVNULL)
    try:
        subprocess.run(
            [*common, "--format", "flamegraph", "-o", str(svg)], check=True, capture_output=True
        )
    finally:
        load.wait()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    for tool in ("wrk", "py-spy"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed: apt-get install wrk; pip install py-spy")
    work = Path(tempfile.mkdtemp(prefix="feedprofile-"))
    try:
        _, path, _ = build(work / "data", args.bookings)
        with serve(work / "data", timeout=120) as (base, process):
            wait_for_publisher(base)
            status, _, headers = fetch(base + path)
            assert status == 200
            for name, extra in (("304", {"If-None-Match": headers["ETag"]}), ("200", {})):
                svg = ROOT / "bench" / f"flame-{name}.svg"
                found = profile(
                    base + path, extra, process.pid, args.seconds, args.connections, svg
                )
                print(f"\n{name} path, {args.connections} connections: {svg.name}")
                print("| feedserver function | share of samples |\n|---|---:|")
                for function, share in found[:12]:
                    print(f"| {function} | {share:.1%} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
