"""Summarise a py-spy collapsed-stack profile: where the samples went, by function.

python3 -m benchmarks.alerts.profile_summary PROFILE.txt [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

# py-spy frames look like "function (path/to/module.py:123)"; the line number is dropped so that
# samples of one function add up.
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('fn')} ({path})"


def summarise(text: str) -> tuple[int, Counter[str], Counter[str]]:
    """(total samples, inclusive samples per function, self samples per function)."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_name(f) for f in stack.split(";")]
        total += n
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    return total, inclusive, own


#: Stages of tocsin's request and notification paths, by a frame that marks each; a sample goes to
#: the first stage whose marker is on its stack.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("storage writer thread (SQL, commit, fsync)", ("tocsin-writer",)),
    ("webhook sending (HTTP client)", ("HTTP1Pool.", "AsyncClient.post")),
    ("webhook payload building", ("webhook_payload", "webhook_body")),
    ("flush: sort, inhibit/silence filter, dedup", ("Dispatcher._flush", "Pipeline.run")),
    # Since the tenth pass the compiled reader does decoding and conversion in one call.
    ("POST /alerts: body to Alerts (compiled reader)", ("alerts_from_body (",)),
    ("POST /alerts: posted alerts to Alert (fingerprint, validation)", ("to_alerts (",)),
    ("POST /alerts: JSON decoding", ("decode_postable_alerts",)),
    ("POST /alerts: engine ingest (merge, route, group)", ("Engine.ingest",)),
    # IngestProtocol: POST /alerts answered by the protocol itself since the twelfth pass.
    (
        "HTTP server (uvicorn, Starlette)",
        ("RequestResponseCycle", "HttpToolsProtocol", "IngestProtocol.", "Starlette.__call__"),
    ),
    ("commit process: merged writes, log rows, frames, answers", ("CommitProcess.",)),
    ("event loop and sockets (uvloop, I/O)", ("Runner.run",)),
]


def by_stage(text: str) -> tuple[int, list[tuple[str, int]]]:
    total = 0
    counts = {name: 0 for name, _ in STAGES}
    counts["other"] = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        for name, markers in STAGES:
            if any(m in stack for m in markers):
                counts[name] += n
                break
        else:
            counts["other"] += n
    return total, sorted(counts.items(), key=lambda kv: -kv[1])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("profile", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--stages", action="store_true", help="only the share of each stage of tocsin")
    args = p.parse_args(argv)
    if args.stages:
        total, stages = by_stage(args.profile.read_text())
        print(f"{total} samples")
        for name, n in stages:
            print(f"  {100 * n / max(total, 1):5.1f}%  {name}")
        return 0 if total else 1
    total, inclusive, own = summarise(args.profile.read_text())
    if not total:
        print(f"{args.profile}: no samples")
        return 1
    print(f"{total} samples")
    print("\ninclusive (function and what it calls):")
    for f, n in inclusive.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("\nself (the function's own code):")
    for f, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
