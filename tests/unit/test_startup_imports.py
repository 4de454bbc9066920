"""Libraries that only some configurations need are imported when first used, not at start-up:
each costs megabytes of resident memory in every tocsin process (idle RSS 73 -> ~55 MiB)."""

from __future__ import annotations

import subprocess
import sys

LAZY = ("apprise", "holidays", "icalendar", "markdown_it", "css_inline", "httpx")


def test_the_server_module_does_not_import_optional_libraries() -> None:
    code = f"import sys, tocsin.server, tocsin.cli\nprint(','.join(m for m in {LAZY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"
