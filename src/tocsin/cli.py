"""The ``tocsin`` command line. Flags of ``serve`` are Alertmanager's, so existing unit files and
scripts keep working when the binary name changes."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from tocsin import __version__

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="tocsin: self-hosted alert management and incident response, a durable drop-in for "
    "Prometheus Alertmanager.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
silence_app = typer.Typer(help="Create, list and expire silences on a running tocsin.", no_args_is_help=True)
app.add_typer(silence_app, name="silence")
incidents_app = typer.Typer(help="List incidents and act on them on a running tocsin.", no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")


class _LazyConsole:
    """A rich Console made when first used: ``tocsin serve`` prints nothing through one unless
    it fails to start, and rich (2.8 MiB resident) would stay loaded in the server for nothing."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


err = cast("Console", _LazyConsole(stderr=True))
out = cast("Console", _LazyConsole())

UrlOpt = Annotated[str, typer.Option("--url", envvar="TOCSIN_URL", help="Base URL of the tocsin server.")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Tenant to act for (default tenant if unset).")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


@app.command()
def serve(
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config.file",
            help="Alertmanager-format configuration file (default: built-in config that logs notifications).",
        ),
    ] = None,
    incidents_file: Annotated[
        str | None,
        typer.Option(
            "--incidents.file",
            help="Incidents configuration: people, schedules, escalation policies, SLAs (docs/incidents.md).",
        ),
    ] = None,
    storage_path: Annotated[
        str, typer.Option("--storage.path", help="Directory for the embedded SQLite database.")
    ] = "data",
    storage_url: Annotated[
        str | None,
        typer.Option(
            "--storage.url",
            envvar="TOCSIN_STORAGE_URL",
            help="Database URL instead of --storage.path: sqlite:///FILE or postgresql://USER@HOST/DB[?schema=NAME].",
        ),
    ] = None,
    standby: Annotated[
        bool,
        typer.Option(
            "--storage.standby",
            help="If another tocsin is active on the same store, wait and take over when it stops"
            " (instead of refusing to start).",
        ),
    ] = False,
    commit_process: Annotated[
        bool,
        typer.Option(
            "--storage.commit-process/--no-storage.commit-process",
            help="Commit in a child process of its own (the default: commits then never wait for"
            " the event loop's GIL); --no-storage.commit-process commits from a thread instead.",
        ),
    ] = True,
    listen_address: Annotated[
        str, typer.Option("--web.listen-address", help="Address to listen on, host:port or :port.")
    ] = "127.0.0.1:9093",
    external_url: Annotated[
        str | None,
        typer.Option(
            "--web.external-url",
            help="URL under which tocsin is reachable from outside (used in notifications).",
        ),
    ] = None,
    route_prefix: Annotated[
        str | None,
        typer.Option(
            "--web.route-prefix", help="Prefix for all HTTP routes (default: path of --web.external-url)."
        ),
    ] = None,
    retention: Annotated[
        str,
        typer.Option(
            "--data.retention", help="How long to keep expired silences and notification log entries."
        ),
    ] = "120h",
    history_retention: Annotated[
        str,
        typer.Option(
            "--history.retention", help="How long to keep the delivery history (0 keeps it forever)."
        ),
    ] = "720h",
    log_level: Annotated[str, typer.Option("--log.level", help="debug, info, warn or error.")] = "info",
    log_format: Annotated[str, typer.Option("--log.format", help="logfmt or json.")] = "logfmt",
    slack_secret_file: Annotated[
        str | None,
        typer.Option(
            "--slack.signing-secret-file",
            help="File holding the Slack app's signing secret; enables Slack buttons"
            " (env TOCSIN_SLACK_SIGNING_SECRET works too).",
        ),
    ] = None,
    cluster_listen: Annotated[
        str | None,
        typer.Option(
            "--cluster.listen-address",
            help="Accepted for Alertmanager compatibility and ignored: tocsin does not gossip.",
        ),
    ] = None,
) -> None:
    """Run the tocsin server (Alertmanager API v2 on --web.listen-address)."""
    from tocsin.config import ConfigError, parse_duration
    from tocsin.logs import setup_logging
    from tocsin.server import ServeOptions
    from tocsin.server import serve as run_server
    from tocsin.storage import StorageError

    try:
        setup_logging(log_level, log_format)
        ret = parse_duration(retention)
        hist = parse_duration(history_retention)
    except ValueError as e:
        raise _fail(str(e), 2) from None
    slack_secret = os.environ.get("TOCSIN_SLACK_SIGNING_SECRET")
    if slack_secret_file:
        try:
            slack_secret = Path(slack_secret_file).read_text().strip()
        except OSError as e:
            raise _fail(f"cannot read --slack.signing-secret-file: {e}", 2) from None
    opts = ServeOptions(
        config_file=config_file,
        incidents_file=incidents_file,
        storage_path=storage_path,
        storage_url=storage_url,
        listen_address=listen_address,
        external_url=external_url,
        route_prefix=route_prefix,
        retention=ret,
        history_retention=hist,
        slack_signing_secret=slack_secret or None,
        standby=standby,
        commit_process=commit_process,
    )
    try:
        run_server(opts)
    except ConfigError as e:
        raise _fail(f"invalid configuration: {e}", 2) from None
    except (StorageError, ValueError, OSError) as e:
        raise _fail(str(e), 2) from None


@app.command("check-config")
def check_config(
    files: Annotated[list[Path], typer.Argument(help="Configuration files to validate.")],
) -> None:
    """Validate configuration files like `amtool check-config` and summarise what they contain."""
    from tocsin.config import ConfigError, load_config_file, summarize

    failed = False
    for f in files:
        # soft_wrap: a long path stays on one line, so "file:line" can be copied or grepped.
        out.print(f"Checking '{f}'", highlight=False, soft_wrap=True)
        try:
            cfg = load_config_file(f)
        except (ConfigError, OSError) as e:
            err.print(f"  FAILED: {e}", highlight=False, soft_wrap=True)
            failed = True
            continue
        out.print("  SUCCESS", highlight=False)
        out.print(summarize(cfg), highlight=False)
    if failed:
        raise typer.Exit(1)


def _parse_labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _fail(f"label {item!r} is not NAME=VALUE", 2)
        labels[name] = value.strip('"')
    return labels


@app.command()
def send(
    labels: Annotated[list[str], typer.Argument(help="Labels as NAME=VALUE; alertname=... names the alert.")],
    annotation: Annotated[
        list[str] | None, typer.Option("--annotation", "-a", help="Annotation NAME=VALUE (repeatable).")
    ] = None,
    ends_at: Annotated[
        str | None, typer.Option("--end", help="RFC 3339 end time (resolves the alert).")
    ] = None,
    generator_url: Annotated[
        str, typer.Option("--generator-url", help="Link back to the alert's source.")
    ] = "",
    url: UrlOpt = "http://127.0.0.1:9093",
    tenant: TenantOpt = None,
) -> None:
    """Send one alert to a running tocsin."""
    from tocsin.client import Client, ClientError

    alert: dict[str, object] = {
        "labels": _parse_labels(labels),
        "annotations": _parse_labels(annotation or []),
    }
    if ends_at:
        alert["endsAt"] = ends_at
    if generator_url:
        alert["generatorURL"] = generator_url
    try:
        Client(url, tenant).post_alerts([alert])
    except ClientError as e:
        raise _fail(str(e)) from None
    out.print("alert sent")


@app.command()
def alerts(
    filters: Annotated[
        list[str] | None, typer.Argument(help="Label matchers, e.g. severity=critical.")
    ] = None,
    silenced: Annotated[
        bool, typer.Option("--silenced/--no-silenced", help="Include silenced alerts.")
    ] = False,
    inhibited: Annotated[
        bool, typer.Option("--inhibited/--no-inhibited", help="Include inhibited alerts.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    url: UrlOpt = "http://127.0.0.1:9093",
    tenant: TenantOpt = None,
) -> None:
    """List the alerts of a running tocsin."""
    from tocsin.client import Client, ClientError

    try:
        items = Client(url, tenant).alerts(filters, active=True, silenced=silenced, inhibited=inhibited)
    except ClientError as e:
        raise _fail(str(e)) from None
    if as_json:
        print(json.dumps(items, indent=2))
        return
    from rich.table import Table

    table = Table("Alertname", "Starts at", "Labels", "State", "Fingerprint")
    for a in items:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a["labels"].items()) if k != "alertname")
        table.add_row(
            a["labels"].get("alertname", ""), a["startsAt"], labels, a["status"]["state"], a["fingerprint"]
        )
    out.print(table)


@silence_app.command("add")
def silence_add(
    matchers: Annotated[
        list[str], typer.Argument(help="Matchers such as alertname=Foo or instance=~'web-.*'.")
    ],
    duration: Annotated[str, typer.Option("--duration", "-d", help="How long the silence lasts.")] = "1h",
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why the silence exists.")] = "",
    author: Annotated[str, typer.Option("--author", help="Who creates it.")] = "tocsin-cli",
    url: UrlOpt = "http://127.0.0.1:9093",
    tenant: TenantOpt = None,
) -> None:
    """Create a silence and print its ID."""
    from tocsin.client import Client, ClientError
    from tocsin.config import parse_duration
    from tocsin.matchers import MatcherError, parse_matchers
    from tocsin.model import format_time

    try:
        ms = [m for text in matchers for m in parse_matchers(text)]
        seconds = parse_duration(duration)
    except (MatcherError, ValueError) as e:
        raise _fail(str(e), 2) from None
    now = datetime.now(UTC).timestamp()
    body = {
        "matchers": [m.to_api() for m in ms],
        "startsAt": format_time(now),
        "endsAt": format_time(now + seconds),
        "createdBy": author,
        "comment": comment or "created with tocsin silence add",
    }
    try:
        sid = Client(url, tenant).post_silence(body)
    except ClientError as e:
        raise _fail(str(e)) from None
    out.print(sid)


@silence_app.command("query")
def silence_query(
    filters: Annotated[
        list[str] | None, typer.Argument(help="Show silences whose matchers match these.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    url: UrlOpt = "http://127.0.0.1:9093",
    tenant: TenantOpt = None,
) -> None:
    """List silences."""
    from tocsin.client import Client, ClientError

    try:
        items = Client(url, tenant).silences(filters)
    except ClientError as e:
        raise _fail(str(e)) from None
    if as_json:
        print(json.dumps(items, indent=2))
        return
    from rich.table import Table

    table = Table("ID", "Matchers", "Ends at", "State", "Created by", "Comment")
    for s in items:
        ms = " ".join(
            f"{m['name']}{'=' if m.get('isEqual', True) else '!'}{'~' if m['isRegex'] else ''}{m['value']}"
            for m in s["matchers"]
        )
        table.add_row(s["id"], ms, s["endsAt"], s["status"]["state"], s["createdBy"], s["comment"])
    out.print(table)


@silence_app.command("expire")
def silence_expire(
    ids: Annotated[list[str], typer.Argument(help="IDs of the silences to expire.")],
    url: UrlOpt = "http://127.0.0.1:9093",
    tenant: TenantOpt = None,
) -> None:
    """Expire silences by ID."""
    from tocsin.client import Client, ClientError

    client = Client(url, tenant)
    for sid in ids:
        try:
            client.expire_silence(sid)
        except ClientError as e:
            raise _fail(str(e)) from None


@app.command("test-receiver")
def test_receiver(
    name: Annotated[str, typer.Argument(help="Receiver name from the configuration.")],
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config.file", help="Send directly with this configuration instead of through a server."
        ),
    ] = None,
    url: UrlOpt = "http://127.0.0.1:9093",
    tenant: TenantOpt = None,
) -> None:
    """Send a sample notification through a receiver and report each integration's outcome."""
    import asyncio

    from tocsin.client import Client, ClientError

    if config_file:
        from tocsin.config import ConfigError, load_config_file
        from tocsin.engine.clock import SystemClock
        from tocsin.engine.testnotify import send_test_notification
        from tocsin.notify.registry import build_integrations

        try:
            integrations = build_integrations(load_config_file(config_file))
        except (ConfigError, OSError) as e:
            raise _fail(str(e), 2) from None
        if name not in integrations:
            raise _fail(f"receiver {name!r} not found in {config_file}", 2)

        async def run() -> list[dict[str, object]]:
            try:
                return await send_test_notification(
                    name, integrations[name], "http://localhost:9093", SystemClock(), tenant or "default"
                )
            finally:
                for i in integrations[name]:
                    await i.close()

        results = asyncio.run(run())
    else:
        try:
            results = Client(url, tenant).test_receiver(name)["integrations"]
        except ClientError as e:
            raise _fail(str(e)) from None
    if not results:
        raise _fail(f"receiver {name!r} has no integrations to test")
    for r in results:
        mark = "[green]ok[/green]" if r["ok"] else f"[red]failed[/red]: {r['error']}"
        out.print(f"{r['integration']}: {mark} ({r['latency_ms']} ms)", highlight=False)
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@app.command()
def deliveries(
    receiver: Annotated[str | None, typer.Option("--receiver", help="Only this receiver.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed deliveries.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first (1-1000).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    url: UrlOpt = "http://127.0.0.1:9093",
    tenant: TenantOpt = None,
) -> None:
    """Show the delivery history: every notification sent or attempted, with its outcome."""
    from tocsin.client import Client, ClientError

    try:
        rows = Client(url, tenant).deliveries(
            receiver=receiver, status="failed" if failed else None, limit=limit
        )
    except ClientError as e:
        raise _fail(str(e)) from None
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("Finished", "Receiver", "Integration", "Status", "Alerts", "Attempts", "Reason", "Error")
    for d in rows:
        table.add_row(
            d["finishedAt"],
            d["receiver"],
            d["integration"],
            d["status"],
            str(d["alerts"]),
            str(d["attempts"]),
            d["reason"],
            d["error"][:80],
        )
    out.print(table)


@incidents_app.command("list")
def incidents_list(
    state: Annotated[str | None, typer.Option("--state", help="triggered, acknowledged or resolved.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    url: UrlOpt = "http://127.0.0.1:9093",
) -> None:
    """List incidents, newest first."""
    from tocsin.client import Client, ClientError

    try:
        rows = Client(url).incidents(state)
    except ClientError as e:
        raise _fail(str(e)) from None
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("ID", "State", "Priority", "Title", "Created", "Acknowledged by", "Firing")
    for i in rows:
        table.add_row(
            i["id"],
            i["state"],
            i["priority"],
            i["title"],
            i["createdAt"],
            i["acknowledgedBy"] or "",
            str(i["firing"]),
        )
    out.print(table)


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[str, typer.Argument(help="Incident ID, e.g. INC-1.")],
    url: UrlOpt = "http://127.0.0.1:9093",
) -> None:
    """Show one incident with its timeline."""
    from tocsin.client import Client, ClientError

    try:
        inc = Client(url).incident(incident_id)
    except ClientError as e:
        raise _fail(str(e)) from None
    out.print(
        f"[bold]{inc['id']}[/bold] {inc['title']} — {inc['state']} ({inc['priority']}, {inc['urgency']})"
    )
    for ev in inc["timeline"]:
        actor = f" [{ev['actor']}]" if ev["actor"] else ""
        out.print(f"  {ev['at']}  {ev['kind']:<20} {ev['text']}{actor}", highlight=False)


def _incident_action(incident_id: str, action: str, body: dict[str, object], url: str) -> None:
    from tocsin.client import Client, ClientError

    try:
        inc = Client(url).incident_action(incident_id, action, body)
    except ClientError as e:
        raise _fail(str(e)) from None
    out.print(f"{inc['id']}: {inc['state']}")


UserOpt = Annotated[str, typer.Option("--user", "-u", help="Who acts (a user id of the incidents config).")]


@incidents_app.command("ack")
def incidents_ack(
    incident_id: Annotated[str, typer.Argument(help="Incident ID.")],
    user: UserOpt = "cli",
    url: UrlOpt = "http://127.0.0.1:9093",
) -> None:
    """Acknowledge an incident: escalation stops."""
    _incident_action(incident_id, "ack", {"user": user}, url)


@incidents_app.command("resolve")
def incidents_resolve(
    incident_id: Annotated[str, typer.Argument(help="Incident ID.")],
    user: UserOpt = "cli",
    url: UrlOpt = "http://127.0.0.1:9093",
) -> None:
    """Resolve an incident."""
    _incident_action(incident_id, "resolve", {"user": user}, url)


@incidents_app.command("note")
def incidents_note(
    incident_id: Annotated[str, typer.Argument(help="Incident ID.")],
    text: Annotated[str, typer.Argument(help="The note.")],
    user: UserOpt = "cli",
    url: UrlOpt = "http://127.0.0.1:9093",
) -> None:
    """Add a note to an incident's timeline."""
    _incident_action(incident_id, "note", {"user": user, "text": text}, url)


@app.command()
def oncall(
    schedule: Annotated[str, typer.Argument(help="Schedule name from the incidents config.")],
    at: Annotated[str | None, typer.Option("--at", help="RFC 3339 time (default: now).")] = None,
    url: UrlOpt = "http://127.0.0.1:9093",
) -> None:
    """Who is on call for a schedule, now or at a given time."""
    from tocsin.client import Client, ClientError

    try:
        r = Client(url).oncall(schedule, at)
    except ClientError as e:
        raise _fail(str(e)) from None
    who = ", ".join(r["onCall"]) or "nobody (a gap in the schedule)"
    out.print(f"{r['schedule']} at {r['at']}: {who}", highlight=False)


@app.command()
def version() -> None:
    """Print tocsin's version."""
    out.print(f"tocsin {__version__} (Alertmanager API v2 compatible), Python {sys.version.split()[0]}")


template_app = typer.Typer(help="Preview notification templates.", no_args_is_help=True)
app.add_typer(template_app, name="template")


@template_app.command("render")
def template_render(
    channel: Annotated[
        str | None,
        typer.Argument(help="Channel whose default templates to render (slack, email, pagerduty...)."),
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config.file", help="Render the templates of a receiver in this config.")
    ] = None,
    receiver: Annotated[str | None, typer.Option("--receiver", help="Receiver in --config.file.")] = None,
    part: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override one part: PART=TEMPLATE (Jinja2 or Go syntax). Repeatable."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Alertmanager webhook JSON to use instead of sample data.")
    ] = None,
    status: Annotated[str, typer.Option("--status", help="Sample status: firing or resolved.")] = "firing",
    as_json: Annotated[bool, typer.Option("--json", help="Print the parts as one JSON object.")] = False,
) -> None:
    """Render notification templates with sample data (or --data) and print every message part."""
    from tocsin.notify.templates.preview import CHANNEL_PARTS, preview, receiver_overrides
    from tocsin.notify.templates.render import TemplateError

    payload = None
    if data is not None:
        try:
            payload = json.loads(data.read_text())
        except (OSError, ValueError) as e:
            raise _fail(f"cannot read --data {data}: {e}", 2) from None
    targets: list[tuple[str, str, dict[str, str | None]]] = []
    if config_file is not None:
        from tocsin.config import ConfigError, load_config_file

        try:
            cfg = load_config_file(config_file)
        except (ConfigError, OSError) as e:
            raise _fail(str(e), 2) from None
        names = [r.name for r in cfg.receivers]
        if receiver is None or receiver not in names:
            raise _fail(f"give --receiver, one of: {', '.join(names)}", 2)
        rcv = next(r for r in cfg.receivers if r.name == receiver)
        for kind, index, icfg in rcv.integrations():
            try:
                ch, overrides = receiver_overrides(kind, icfg)
            except TemplateError:
                continue
            if channel is None or channel == ch:
                targets.append((f"{kind}[{index}]", ch, overrides))
        if not targets:
            raise _fail(f"receiver {receiver!r} has no {channel or 'templated'} integration", 2)
    elif channel is None:
        raise _fail(f"give a channel ({', '.join(sorted(CHANNEL_PARTS))}) or --config.file and --receiver", 2)
    else:
        targets.append((channel, channel, {}))
    for item in part or []:
        name, sep, template = item.partition("=")
        if not sep:
            raise _fail(f"--set takes PART=TEMPLATE, got {item!r}", 2)
        for _, _, overrides in targets:
            overrides[name.strip()] = template
    results: dict[str, dict[str, str]] = {}
    for label, ch, overrides in targets:
        try:
            results[label] = preview(ch, overrides, payload, status)
        except TemplateError as e:
            raise _fail(f"{label}: {e}", 1) from None
    if as_json:
        out.print_json(json.dumps(results if len(results) > 1 else next(iter(results.values()))))
        return
    for label, parts in results.items():
        for name, text in parts.items():
            out.rule(f"{label} {name}")
            out.out(text, highlight=False)


def main() -> None:
    app()
