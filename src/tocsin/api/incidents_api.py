"""Incidents, one-click links and on-call schedules over HTTP (under /api/tocsin/v1)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tocsin.api.http import BodyTooLarge, html_page, json_response, read_body
from tocsin.config import parse_duration
from tocsin.engine.engine import Engine
from tocsin.model import format_time, parse_time

# The incidents modules are imported by the handlers once they know that incidents are configured:
# a server started without --incidents.file never loads them (1.7 MiB resident).
if TYPE_CHECKING:
    from tocsin.incidents.actions import Action
    from tocsin.incidents.manager import IncidentManager
    from tocsin.incidents.model import Incident
    from tocsin.incidents.service import IncidentService

_decode = msgspec.json.Decoder()
MAX_BODY = 64 * 1024
ICAL_DAYS_DEFAULT = 30


def incident_json(inc: Incident, full: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": inc.id,
        "title": inc.title,
        "state": str(inc.state),
        "severity": inc.severity,
        "priority": inc.priority,
        "urgency": inc.urgency,
        "groupKey": inc.group_key,
        "groups": inc.groups,
        "labels": inc.labels,
        "createdAt": format_time(inc.created_at),
        "acknowledgedAt": format_time(inc.acknowledged_at) if inc.acknowledged_at else None,
        "acknowledgedBy": inc.acknowledged_by,
        "resolvedAt": format_time(inc.resolved_at) if inc.resolved_at else None,
        "resolvedBy": inc.resolved_by,
        "assignees": inc.assignees,
        "firing": len(inc.firing),
        "alerts": len(inc.alerts),
    }
    if full:
        d["alertRefs"] = [
            {
                "fingerprint": a.fingerprint,
                "labels": a.labels,
                "status": a.status,
                "startsAt": format_time(a.starts_at),
            }
            for a in inc.alerts.values()
        ]
        raw = inc.to_dict()
        d["probableCauses"] = raw["probable_causes"]
        d["notes"] = raw["notes"]
        d["breaches"] = raw["breaches"]
        d["timeline"] = [
            {"at": format_time(e.at), "kind": str(e.kind), "text": e.text, "actor": e.actor}
            for e in inc.timeline
        ]
    return d


class IncidentsAPI:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def routes(self) -> list[Route]:
        return [
            Route("/incidents", self.list_incidents, methods=["GET"]),
            Route("/incidents/{id}", self.get_incident, methods=["GET"]),
            Route("/incidents/{id}/{action}", self.act, methods=["POST"]),
            Route("/links/{token}", self.link_page, methods=["GET"]),
            Route("/links/{token}", self.link_apply, methods=["POST"]),
            Route("/schedules", self.schedules, methods=["GET"]),
            Route("/schedules/{name}/oncall", self.oncall, methods=["GET"]),
            Route("/schedules/{name}/calendar.ics", self.schedule_ics, methods=["GET"]),
            Route("/users/{id}/calendar.ics", self.user_ics, methods=["GET"]),
        ]

    def _service(self) -> IncidentService | None:
        return self._engine().incidents

    def _disabled(self) -> Response:
        return json_response("incidents are not configured (start tocsin with --incidents.file)", 404)

    # --- incidents ------------------------------------------------------------------------------
    async def list_incidents(self, request: Request) -> Response:
        svc = self._service()
        if svc is None:
            return self._disabled()
        state = request.query_params.get("state")
        if state not in (None, "triggered", "acknowledged", "resolved"):
            return json_response("state must be triggered, acknowledged or resolved", 400)
        items = [i for i in svc.manager.incidents.values() if state is None or str(i.state) == state]
        items.sort(key=lambda i: i.created_at, reverse=True)
        return json_response([incident_json(i, full=False) for i in items])

    async def get_incident(self, request: Request) -> Response:
        svc = self._service()
        if svc is None:
            return self._disabled()
        from tocsin.incidents.manager import UnknownIncident

        try:
            inc = svc.manager.get(request.path_params["id"])
        except UnknownIncident:
            return json_response(f"incident {request.path_params['id']!r} not found", 404)
        return json_response(incident_json(inc, full=True))

    async def act(self, request: Request) -> Response:
        svc = self._service()
        if svc is None:
            return self._disabled()
        from tocsin.incidents.lifecycle import TransitionError
        from tocsin.incidents.manager import UnknownIncident

        iid = request.path_params["id"]
        action = request.path_params["action"]
        try:
            body = await read_body(request, MAX_BODY)
            doc = _decode.decode(body) if body.strip() else {}
        except BodyTooLarge as e:
            return json_response(str(e), 413)
        except msgspec.DecodeError as e:
            return json_response(f"malformed JSON: {e}", 400)
        if not isinstance(doc, dict):
            return json_response("body must be a JSON object", 400)
        try:
            op = _operation(action, doc)
        except ValueError as e:
            return json_response(str(e), 400)
        if op is None:
            known = "ack, unack, snooze, resolve, reopen, note, assign or priority"
            return json_response(f"unknown action {action!r}: use {known}", 404)
        try:
            await svc.act(lambda m, now: op(m, iid, now))
        except UnknownIncident:
            return json_response(f"incident {iid!r} not found", 404)
        except TransitionError as e:
            return json_response(str(e), 409)
        except ValueError as e:
            return json_response(str(e), 400)
        return json_response(incident_json(svc.manager.get(iid), full=True))

    # --- one-click links ------------------------------------------------------------------------
    async def link_page(self, request: Request) -> Response:
        """Show what the link will do; only the POST acts, so mail scanners that follow links
        cannot acknowledge an incident by themselves."""
        svc = self._service()
        if svc is None:
            return self._disabled()
        from tocsin.incidents.links import LinkError, verify_token
        from tocsin.incidents.manager import UnknownIncident

        token = request.path_params["token"]
        try:
            claims = verify_token(svc.manager.setup.link_secrets, token, svc.clock.now())
            inc = svc.manager.get(claims.incident_id)
        except (LinkError, UnknownIncident) as e:
            return html_page(403, "Link refused", str(e))
        verb = "Acknowledge" if str(claims.action) == "ack" else "Resolve"
        form = f'<form method="post"><button type="submit">{verb} {html.escape(inc.id)}</button></form>'
        return html_page(
            200, f"{verb} {inc.id}?", f"{html.escape(inc.title)} — {html.escape(str(inc.state))}", form
        )

    async def link_apply(self, request: Request) -> Response:
        svc = self._service()
        if svc is None:
            return self._disabled()
        from tocsin.incidents.lifecycle import TransitionError
        from tocsin.incidents.links import LinkError
        from tocsin.incidents.manager import UnknownIncident

        token = request.path_params["token"]
        holder: dict[str, Any] = {}

        def op(m: IncidentManager, now: float) -> list[Action]:
            claims, actions = m.handle_link(token, now)
            holder["claims"] = claims
            return actions

        try:
            await svc.act(op)
        except LinkError as e:
            return html_page(403, "Link refused", str(e))
        except (TransitionError, UnknownIncident) as e:
            return html_page(409, "Nothing to do", str(e))
        claims = holder["claims"]
        done = "acknowledged" if str(claims.action) == "ack" else "resolved"
        return html_page(200, f"{claims.incident_id} {done}", f"Recorded as {html.escape(claims.user)}.")

    # --- schedules ------------------------------------------------------------------------------
    async def schedules(self, request: Request) -> Response:
        svc = self._service()
        if svc is None:
            return self._disabled()
        now = svc.clock.now()
        return json_response(
            [
                {"name": s.name, "timeZone": s.time_zone, "onCall": list(s.on_call_at(now))}
                for s in svc.manager.setup.schedules.values()
            ]
        )

    def _schedule(self, request: Request) -> tuple[IncidentService, Any] | Response:
        """The service and the schedule the path names, or the error response to send."""
        svc = self._service()
        if svc is None:
            return self._disabled()
        name = request.path_params["name"]
        sched = svc.manager.setup.schedules.get(name)
        if sched is None:
            return json_response(f"schedule {name!r} not found", 404)
        return svc, sched

    async def oncall(self, request: Request) -> Response:
        found = self._schedule(request)
        if isinstance(found, Response):
            return found
        svc, sched = found
        q = request.query_params
        try:
            at = parse_time(q["at"]) if "at" in q else svc.clock.now()
            if "from" in q or "to" in q:
                a = parse_time(q["from"]) if "from" in q else at
                b = parse_time(q["to"]) if "to" in q else a + 7 * 86400
                if b <= a or b - a > 366 * 86400:
                    raise ValueError("the range must be positive and at most one year")
                shifts = [
                    {
                        "start": format_time(s.start),
                        "end": format_time(s.end),
                        "users": list(s.users),
                        "source": s.source,
                    }
                    for s in sched.final(a, b)
                ]
                return json_response({"schedule": sched.name, "shifts": shifts})
        except (ValueError, KeyError) as e:
            return json_response(f"bad time range: {e}", 400)
        return json_response(
            {"schedule": sched.name, "at": format_time(at), "onCall": list(sched.on_call_at(at))}
        )

    def _window(self, request: Request, now: float) -> tuple[float, float]:
        days = request.query_params.get("days", str(ICAL_DAYS_DEFAULT))
        if not days.isdigit() or not 1 <= int(days) <= 366:
            raise ValueError("days must be a whole number from 1 to 366")
        return now, now + int(days) * 86400

    async def schedule_ics(self, request: Request) -> Response:
        found = self._schedule(request)
        if isinstance(found, Response):
            return found
        svc, sched = found
        try:
            a, b = self._window(request, svc.clock.now())
        except ValueError as e:
            return json_response(str(e), 400)
        from tocsin.incidents.ical import export_schedule

        return Response(export_schedule(sched, a, b), media_type="text/calendar")

    async def user_ics(self, request: Request) -> Response:
        svc = self._service()
        if svc is None:
            return self._disabled()
        uid = request.path_params["id"]
        user = svc.manager.setup.directory.users.get(uid)
        if user is None:
            return json_response(f"user {uid!r} not found", 404)
        try:
            a, b = self._window(request, svc.clock.now())
        except ValueError as e:
            return json_response(str(e), 400)
        from tocsin.incidents.ical import export_user

        body = export_user(uid, svc.manager.setup.schedules.values(), a, b, user.time_zone)
        return Response(body, media_type="text/calendar")


Op = Callable[["IncidentManager", str, float], list["Action"]]


def _str(doc: dict[str, Any], key: str, default: str | None = None) -> str:
    v = doc.get(key, default)
    if not isinstance(v, str) or not v:
        raise ValueError(f"{key!r} must be a non-empty string")
    return v


def _operation(action: str, doc: dict[str, Any]) -> Op | None:
    """Validate the body for ``action`` and return the manager call, or None if unknown."""
    user = doc.get("user", "api")
    if not isinstance(user, str) or not user:
        raise ValueError("'user' must be a non-empty string")
    if action == "ack":
        return lambda m, i, now: m.acknowledge(i, user, now, "api")
    if action == "unack":
        return lambda m, i, now: m.unacknowledge(i, user, now, "api")
    if action == "resolve":
        return lambda m, i, now: m.resolve(i, user, now, "api")
    if action == "reopen":
        return lambda m, i, now: m.reopen(i, user, now, "api")
    if action == "snooze":
        seconds = parse_duration(_str(doc, "duration"))
        return lambda m, i, now: m.snooze(i, user, seconds, now, "api")
    if action == "note":
        text = _str(doc, "text")
        return lambda m, i, now: m.add_note(i, user, text, now)
    if action == "assign":
        users = doc.get("users")
        if not isinstance(users, list) or not users or not all(isinstance(u, str) and u for u in users):
            raise ValueError("'users' must be a non-empty list of user ids")
        return lambda m, i, now: m.assign(i, users, user, now)
    if action == "priority":
        prio = _str(doc, "priority")
        return lambda m, i, now: m.set_priority(i, prio, user, now)
    return None
