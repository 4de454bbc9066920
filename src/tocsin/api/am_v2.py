"""Alertmanager's HTTP API v2, route for route: what Prometheus, Grafana, amtool and karma call."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tocsin import __version__
from tocsin.api.alerts_codec import (
    SchemaError,
    alerts_from_body,
    gettable_alert,
    gettable_silence,
    sort_silences,
)
from tocsin.api.http import BodyTooLarge, json_response, read_body, tenant_of
from tocsin.engine.engine import Engine
from tocsin.engine.labelsets import labels_before, sort_alerts
from tocsin.engine.silences import Silence, SilenceError, SilenceNotFound
from tocsin.engine.status_cache import Entry
from tocsin.matchers import Matcher, MatcherError, compile_anchored, parse_matchers
from tocsin.model import Alert, parse_time

#: The Alertmanager API version tocsin implements; amtool compares major.minor with its own.
AM_COMPAT_VERSION = "0.25.0"

_decode = msgspec.json.Decoder()
_encode = msgspec.json.Encoder().encode


def _json_list(items: list[bytes]) -> bytes:
    """A JSON array of encoded items, copied once: the answer can be megabytes, and
    ``b"[" + b",".join(...) + b"]"`` copies it three times."""
    if not items:
        return b"[]"
    items[0] = b"[" + items[0]
    items[-1] = items[-1] + b"]"
    return b",".join(items)


def _error(status: int, message: str) -> Response:
    # Alertmanager answers errors with a bare JSON string.
    return json_response(message, status)


_TRUE_WORDS = frozenset(("true", "1", "yes", "ok", "y", "on", "selected", "checked", "t", "enabled"))
_FALSE_WORDS = frozenset(("false", "0", "no", "n", "off", "f", "unselected", "unchecked", "disabled"))


def _bool_param(request: Request, name: str, default: bool = True) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    # Alertmanager's API layer takes these words for true and any other value for false; tocsin
    # takes the same words but refuses values that are neither, rather than guessing false.
    if raw.lower() in _TRUE_WORDS:
        return True
    if raw.lower() in _FALSE_WORDS:
        return False
    raise ValueError(f"query parameter {name!r} must be true or false, got {raw!r}")


def _filters(request: Request) -> list[Matcher]:
    out: list[Matcher] = []
    for f in request.query_params.getlist("filter"):
        try:
            out.extend(parse_matchers(f))
        except MatcherError as e:
            raise ValueError(f"bad matcher format: {f}: {e}") from None
    return out


class IngestStarted:
    """A POST /alerts whose alerts are merged and queued for their commit (``V2.ingest_start``)."""

    __slots__ = ("answer", "committed", "engine", "merged")

    def __init__(
        self,
        engine: Engine,
        merged: list[Alert],
        committed: asyncio.Future[None] | None,
        answer: tuple[int, bytes],
    ) -> None:
        self.engine = engine
        self.merged = merged
        #: done once the alerts are durable; its error (a StorageError) is the request's
        self.committed = committed
        self.answer = answer

    def finish(self) -> tuple[int, bytes]:
        """Once ``committed`` is done without an error: route the alerts, and the answer."""
        self.engine.ingest_finish(self.merged)
        return self.answer


class V2:
    def __init__(
        self, engine_ref: Callable[[], Engine], status_config: Callable[[], str], max_body: int
    ) -> None:
        self._engine = engine_ref
        self._config_yaml = status_config
        self.max_body = max_body
        #: GET /alerts and /alerts/groups answers by (path, tenant, query): (what the answer
        #: depends on, valid until, body)
        self._answers: dict[tuple[str, str, str], tuple[tuple[Any, ...], float, bytes]] = {}

    def _cached_answer(self, request: Request, depends: tuple[Any, ...]) -> bytes | None:
        """The body of an earlier answer to the same query, if nothing it depends on changed."""
        hit = self._answers.get((request.url.path, tenant_of(request), request.url.query))
        if hit is not None and hit[0] == depends and self.engine.clock.now() < hit[1]:
            return hit[2]
        return None

    def _keep_answer(self, request: Request, depends: tuple[Any, ...], until: float, body: bytes) -> None:
        # Dashboards and amtool poll the same query over and over while nothing changes: the whole
        # answer is kept until what it depends on changes (the stored alerts, the statuses' epoch,
        # the groups) or time reaches a silence or inhibition boundary or a listed alert's end.
        if len(self._answers) >= 64:
            self._answers.clear()
        self._answers[(request.url.path, tenant_of(request), request.url.query)] = (depends, until, body)

    @property
    def engine(self) -> Engine:
        return self._engine()

    def routes(self) -> list[Route]:
        return [
            Route("/status", self.status, methods=["GET"]),
            Route("/receivers", self.receivers, methods=["GET"]),
            Route("/alerts", self.get_alerts, methods=["GET"]),
            Route("/alerts", self.post_alerts, methods=["POST"]),
            Route("/alerts/groups", self.get_groups, methods=["GET"]),
            Route("/silences", self.get_silences, methods=["GET"]),
            Route("/silences", self.post_silences, methods=["POST"]),
            Route("/silence/{id}", self.get_silence, methods=["GET"]),
            Route("/silence/{id}", self.delete_silence, methods=["DELETE"]),
        ]

    # --- general -------------------------------------------------------------------------------
    async def status(self, request: Request) -> Response:
        e = self.engine
        uptime = e.started_at
        from tocsin.model import format_time

        return json_response(
            {
                "cluster": {"status": "disabled", "peers": []},
                "versionInfo": {
                    "version": AM_COMPAT_VERSION,
                    "revision": f"tocsin-{__version__}",
                    "branch": "tocsin",
                    "buildUser": "tocsin",
                    "buildDate": "",
                    "goVersion": "python",
                },
                "config": {"original": self._config_yaml()},
                "uptime": format_time(uptime),
            }
        )

    async def receivers(self, request: Request) -> Response:
        return json_response([{"name": r.name} for r in self.engine.config.receivers])

    # --- alerts --------------------------------------------------------------------------------
    async def post_alerts(self, request: Request) -> Response:
        try:
            body = await read_body(request, self.max_body)
        except BodyTooLarge as ex:
            return _error(413, str(ex))
        status, payload = await self.ingest_body(body, tenant_of(request))
        if status == 200:
            return Response(status_code=200)
        return Response(payload, status_code=status, media_type="application/json")

    async def ingest_body(self, body: bytes, tenant_id: str) -> tuple[int, bytes]:
        """POST /alerts after the body is read: (HTTP status, JSON body; empty for 200).

        Shared by the Starlette route and the ASGI fast path (``api/ingest_fast_path.py``)."""
        started = self.ingest_start(body, tenant_id)
        if isinstance(started, tuple):
            return started
        if started.committed is not None:
            await started.committed
        return started.finish()

    def ingest_start(self, body: bytes, tenant_id: str) -> tuple[int, bytes] | IngestStarted:
        """``ingest_body`` up to the commit: the answer, or what finishes the request once its
        commit is done (``api/ingest_protocol.py`` waits for it with a callback, not a task)."""
        e = self.engine
        try:
            now = e.clock.now()
            alerts, errors = alerts_from_body(body, now, e.config.global_.resolve_timeout, tenant_id)
        except SchemaError as ex:
            return 422, _encode(str(ex))
        except ValueError as ex:
            return 400, _encode(str(ex))
        answer = (400, _encode("; ".join(errors))) if errors else (200, b"")
        started = e.ingest_start(alerts)
        if started is None:
            return answer
        return IngestStarted(e, started[0], started[1], answer)

    def _alert_filter(self, request: Request, by_receiver: bool = True) -> Callable[[Alert], Entry | None]:
        """The query's filter: the alert's cached status entry when the alert is listed, else None."""
        e = self.engine
        active = _bool_param(request, "active")
        silenced = _bool_param(request, "silenced")
        inhibited = _bool_param(request, "inhibited")
        unprocessed = _bool_param(request, "unprocessed")
        matchers = _filters(request)
        receiver = request.query_params.get("receiver")
        try:
            receiver_re = compile_anchored(receiver) if receiver else None
        except MatcherError as ex:
            raise ValueError(f"bad receiver regex: {ex}") from None
        now = e.clock.now()
        del unprocessed  # tocsin routes alerts as they arrive: none is ever "unprocessed"
        cache = e.status_cache
        cache.begin(now)
        if not matchers and receiver_re is None and active and silenced and inhibited:
            # The plain query (what dashboards poll): every current alert, no status test. After
            # any change the answer is rebuilt over every alert, and this is that loop's body.
            get = cache.get
            cached = cache.entries.get

            def accept_current(a: Alert) -> Entry | None:
                if a.ends_at <= now:
                    return None
                # The hit, inlined: this runs for every alert whenever the answer is rebuilt.
                entry = cached((a.tenant_id, a.fingerprint))
                return entry if entry is not None and entry.alert is a else get(a, now)

            return accept_current

        def accept(a: Alert) -> Entry | None:
            if a.ends_at <= now:
                return None
            labels = a.labels
            for m in matchers:
                if not m.matches(labels):
                    return None
            entry = cache.get(a, now)
            st = entry.status
            matched = receiver_re is None or any(receiver_re.match(r) for r in st.receivers)
            if by_receiver and not matched:
                return None
            if st.state == "active" and not active:
                return None
            if st.silenced_by and not silenced:
                return None
            if st.inhibited_by and not inhibited:
                return None
            return entry

        return accept

    async def get_alerts(self, request: Request) -> Response:
        try:
            accept = self._alert_filter(request)
        except ValueError as ex:
            return _error(400, str(ex))
        e = self.engine
        tenant = tenant_of(request)
        now = e.clock.now()
        epoch, epoch_until = e.status_cache.epoch
        depends = (e.store.version, epoch)
        cached = self._cached_answer(request, depends)
        if cached is not None:
            return Response(cached, media_type="application/json")
        parts = []
        until = epoch_until
        for a in e.store.in_fingerprint_order(tenant):
            if now < a.ends_at < until:
                until = a.ends_at
            entry = accept(a)
            if entry is not None:
                # Each alert's JSON is kept with its cached status: an unchanged alert is not
                # rebuilt or re-encoded on the next read.
                if entry.fragment is None:
                    entry.fragment = _encode(gettable_alert(a, entry.status))
                parts.append(entry.fragment)
        body = _json_list(parts)
        self._keep_answer(request, depends, until, body)
        return Response(body, media_type="application/json")

    async def get_groups(self, request: Request) -> Response:
        """Alertmanager's rules: ``receiver`` filters groups by their route's receiver; an alert's
        receivers are those of the listed groups holding it (sorted, repeats kept); groups are
        ordered by label set then receiver, their alerts as in notifications."""
        try:
            accept = self._alert_filter(request, by_receiver=False)
            raw = request.query_params.get("receiver")
            receiver_re = compile_anchored(raw) if raw else None
        except (ValueError, MatcherError) as ex:
            return _error(400, str(ex))
        e = self.engine
        epoch, until = e.status_cache.epoch
        depends = (e.store.version, id(e.dispatcher), e.dispatcher.version, epoch)
        cached = self._cached_answer(request, depends)
        if cached is not None:
            return Response(cached, media_type="application/json")
        now = e.clock.now()
        listed: list[tuple[Any, list[tuple[Alert, Entry]]]] = []
        receivers_of: dict[int, list[str]] = {}
        for g in e.groups(tenant_of(request)):
            if receiver_re is not None and not receiver_re.match(g.route.receiver):
                continue
            for a in g.alerts.values():
                if now < a.ends_at < until:
                    until = a.ends_at
            kept = [(a, entry) for a in g.alerts.values() if (entry := accept(a)) is not None]
            if not kept:
                continue
            for a, _ in kept:
                receivers_of.setdefault(a.fingerprint, []).append(g.route.receiver)
            listed.append((g, kept))
        listed.sort(key=functools.cmp_to_key(_compare_groups))
        parts = []
        for g, kept in listed:
            by_fp = {a.fingerprint: entry for a, entry in kept}
            fragments = []
            for a in sort_alerts([a for a, _ in kept]):
                entry = by_fp[a.fingerprint]
                receivers = sorted(receivers_of[a.fingerprint])
                if receivers == entry.status.receivers:
                    # The usual case (the groups holding it are the routes it matches): the
                    # alert's JSON is the one GET /alerts keeps, built once per status.
                    if entry.fragment is None:
                        entry.fragment = _encode(gettable_alert(a, entry.status))
                    fragments.append(entry.fragment)
                else:
                    d = gettable_alert(a, entry.status)
                    d["receivers"] = [{"name": r} for r in receivers]
                    fragments.append(_encode(d))
            parts.append(
                b'{"labels":'
                + _encode(g.labels)
                + b',"receiver":'
                + _encode({"name": g.route.receiver})
                + b',"alerts":'
                + _json_list(fragments)
                + b"}"
            )
        body = _json_list(parts)
        self._keep_answer(request, depends, until, body)
        return Response(body, media_type="application/json")

    # --- silences ------------------------------------------------------------------------------
    async def get_silences(self, request: Request) -> Response:
        try:
            matchers = _filters(request)
        except ValueError as ex:
            return _error(400, str(ex))
        e = self.engine
        now = e.clock.now()
        out = []
        for s in sort_silences(e.silences.all(tenant_of(request)), now):
            # Filters compare against the silence's own matchers as a name→value map.
            as_labels = {m.name: m.value for m in s.matchers}
            if all(m.matches(as_labels) for m in matchers):
                out.append(gettable_silence(s, now))
        return json_response(out)

    async def get_silence(self, request: Request) -> Response:
        sid = request.path_params["id"]
        e = self.engine
        try:
            s = e.silences.get(sid, tenant_of(request))
        except SilenceNotFound:
            return Response(status_code=404)
        return json_response(gettable_silence(s, e.clock.now()))

    async def delete_silence(self, request: Request) -> Response:
        sid = request.path_params["id"]
        try:
            await self.engine.expire_silence(sid, tenant_of(request))
        except SilenceNotFound:
            return _error(404, f"silence {sid} not found")
        return Response(status_code=200)

    async def post_silences(self, request: Request) -> Response:
        e = self.engine
        try:
            body = await read_body(request, self.max_body)
        except BodyTooLarge as ex:
            return _error(413, str(ex))
        try:
            doc = _decode.decode(body)
        except msgspec.DecodeError as ex:
            return _error(400, f"malformed JSON: {ex}")
        try:
            sil = _silence_from_json(doc, tenant_of(request))
        except SchemaError as ex:
            return _error(422, str(ex))
        except (ValueError, MatcherError) as ex:
            return _error(400, str(ex))
        now = e.clock.now()
        if sil.starts_at >= sil.ends_at:
            return _error(400, "Failed to create silence: start time must be before end time")
        if sil.ends_at < now:
            return _error(400, "Failed to create silence: end time can't be in the past")
        try:
            sid = await e.set_silence(sil)
        except SilenceNotFound as ex:
            return _error(404, str(ex))
        except SilenceError as ex:
            return _error(400, f"Failed to create silence: {ex}")
        return json_response({"silenceID": sid})


def _compare_groups(x: tuple[Any, Any], y: tuple[Any, Any]) -> int:
    gx, gy = x[0], y[0]
    if gx.labels == gy.labels:
        return (gx.route.receiver > gy.route.receiver) - (gx.route.receiver < gy.route.receiver)
    return -1 if labels_before(gx.labels, gy.labels) else 1


def _silence_from_json(doc: Any, tenant_id: str) -> Silence:
    # As in Alertmanager, a value of the wrong JSON type is a decoding error (400); a missing
    # required field or an empty matcher list fails schema validation (422).
    if not isinstance(doc, dict):
        raise ValueError("silence must be a JSON object")
    for field in ("matchers", "startsAt", "endsAt", "createdBy", "comment"):
        if field not in doc or doc[field] is None:
            raise SchemaError(f"{field} in body is required")
    if not isinstance(doc["matchers"], list):
        raise ValueError("matchers in body must be of type array")
    if not doc["matchers"]:
        raise SchemaError("matchers in body should have at least 1 items")
    for field in ("startsAt", "endsAt", "createdBy", "comment"):
        if not isinstance(doc[field], str):
            raise ValueError(f"{field} in body must be of type string")
    matchers = []
    for i, m in enumerate(doc["matchers"]):
        if not isinstance(m, dict):
            raise ValueError(f"matchers.{i} in body must be of type object")
        for req in ("name", "value", "isRegex"):
            if req not in m:
                raise SchemaError(f"matchers.{i}.{req} in body is required")
        try:
            matchers.append(Matcher.from_api(m))
        except MatcherError as ex:
            raise ValueError(f"Failed to create silence: invalid matcher {i}: {ex}") from None
    sid = doc.get("id") or ""
    if not isinstance(sid, str):
        raise ValueError("id in body must be of type string")
    return Silence(
        matchers=matchers,
        starts_at=parse_time(doc["startsAt"]),
        ends_at=parse_time(doc["endsAt"]),
        created_by=doc["createdBy"],
        comment=doc["comment"],
        id=sid,
        tenant_id=tenant_id,
    )


__all__ = ["V2"]
