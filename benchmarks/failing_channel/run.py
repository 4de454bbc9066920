"""Memory of a server whose receiver always fails (Alertmanager #5018: it grew to 1.4 GiB).

Runs the same workload against tocsin and, when installed, Debian's prometheus-alertmanager:
G groups of alerts re-posted every few seconds (as Prometheus does) while the only receiver's
webhook refuses every connection. tocsin also has a fallback receiver that works, so the run also
counts what reached it. Samples the server's resident memory and prints a table.

    python3 benchmarks/failing_channel/run.py --duration 120 --groups 200 --alerts-per-group 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident set of the process, KiB."""
    cur = peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return cur, peak


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                sink.count += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


CONFIG = """
route:
  receiver: broken
  group_by: [alertname, group]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 30s
receivers:
  - name: broken
{fallback}    webhook_configs: [{{url: "http://127.0.0.1:{dead}/never", send_resolved: true}}]
  - name: backup
    webhook_configs: [{{url: "{sink}"}}]
"""


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("server exited during start-up")
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def run_one(
    name: str, cmd: list[str], port: int, args: argparse.Namespace, sink: CountingSink
) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_ready(f"http://127.0.0.1:{port}/-/ready", proc)
        before = sink.count
        samples = []
        start = time.time()
        client = httpx.Client(timeout=10)
        next_post = 0.0
        while (elapsed := time.time() - start) < args.duration:
            if elapsed >= next_post:
                ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
                alerts = [
                    {"labels": {"alertname": "Broken", "group": f"g{g}", "i": str(i)}, "endsAt": ends}
                    for g in range(args.groups)
                    for i in range(args.alerts_per_group)
                ]
                for k in range(0, len(alerts), 500):
                    client.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=alerts[k : k + 500])
                next_post += args.resend
            samples.append((round(elapsed, 1), *rss_kib(proc.pid)))
            print(
                f"\r{name}: {elapsed:5.0f}/{args.duration}s rss {samples[-1][1] / 1024:7.1f} MiB",
                end="",
                file=sys.stderr,
            )
            time.sleep(1)
        print(file=sys.stderr)
        client.close()
        first = samples[min(len(samples) - 1, 10)][1]
        last = samples[-1][1]
        return {
            "server": name,
            "rss_after_10s_mib": round(first / 1024, 1),
            "rss_end_mib": round(last / 1024, 1),
            "peak_rss_mib": round(max(s[2] for s in samples) / 1024, 1),
            "growth_mib_per_min": round(
                (last - first)
                / 1024
                / max(1e-9, (samples[-1][0] - samples[min(len(samples) - 1, 10)][0]) / 60),
                2,
            ),
            "fallback_deliveries": sink.count - before,
        }
    finally:
        proc.terminate()
        proc.wait(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=120, help="seconds per server")
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--alerts-per-group", type=int, default=5)
    ap.add_argument("--resend", type=float, default=5, help="seconds between re-posts of all alerts")
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    args = ap.parse_args()
    sink = CountingSink()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        dead = free_port()  # nothing listens there: every delivery is refused
        for name in ("tocsin", "alertmanager"):
            binary = shutil.which("prometheus-alertmanager")
            if name == "alertmanager" and binary is None:
                print("prometheus-alertmanager not installed: skipped", file=sys.stderr)
                continue
            port = free_port()
            cfg = Path(tmp) / f"{name}.yml"
            fallback = "    fallback_receiver: backup\n" if name == "tocsin" else ""
            cfg.write_text(CONFIG.format(fallback=fallback, dead=dead, sink=sink.url))
            data = Path(tmp) / f"{name}-data"
            if name == "tocsin":
                cmd = [
                    sys.executable,
                    "-m",
                    "tocsin",
                    "serve",
                    f"--config.file={cfg}",
                    f"--storage.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=error",
                ]
            else:
                cmd = [
                    str(binary),
                    f"--config.file={cfg}",
                    f"--storage.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                    "--log.level=error",
                ]
            results.append(run_one(name, cmd, port, args, sink))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    cols = list(results[0])
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in results:
        print(" | ".join(str(r[c]) for c in cols))


if __name__ == "__main__":
    main()
