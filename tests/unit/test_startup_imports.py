"""Libraries that only some configurations need are imported when first used, not at start-up:
each costs megabytes of resident memory in every tocsin process (idle RSS 73 -> ~55 MiB)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LAZY = (
    "apprise",
    "holidays",
    "icalendar",
    "markdown_it",
    "css_inline",
    "httpx",
    "jinja2",
    "rich",
    "dateutil",
    # RE2, loaded at the first regex matcher
    "re2",
    # the incidents subsystem, loaded with --incidents.file
    "tocsin.incidents",
)

#: The benchmark's configuration (benchmarks/alerts/workload.py): one plain-HTTP webhook.
WEBHOOK_CONFIG = """\
route:
  receiver: sink
  group_by: [alertname, cluster]
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:9/sink
        send_resolved: true
"""


def _loaded(code: str, modules: tuple[str, ...]) -> str:
    code += f"\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def test_the_server_module_does_not_import_optional_libraries() -> None:
    loaded = _loaded("import tocsin.server, tocsin.cli", LAZY)
    assert loaded == "", f"imported at start-up: {loaded}"


def test_a_started_server_with_a_webhook_has_not_imported_them(tmp_path: Path) -> None:
    """All that ``tocsin serve`` does before it listens (config, storage, engine, restore, app),
    with the benchmark's configuration: a plain-HTTP webhook sends without httpx."""
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(WEBHOOK_CONFIG)
    code = (
        "from tocsin.server import ServeOptions, Service\n"
        f"s = Service(ServeOptions(config_file={str(cfg)!r}, storage_path={str(tmp_path)!r},"
        " commit_process=False))\n"
        "s.storage.close()\n"
        "s.lock.release()"
    )
    loaded = _loaded(code, LAZY)
    assert loaded == "", f"imported at start-up: {loaded}"
