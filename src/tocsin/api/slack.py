"""Slack's interactions endpoint: button clicks on tocsin's Slack messages.

Every request is verified before anything is parsed: ``X-Slack-Signature`` must be
``v0=hex(HMAC-SHA256(signing_secret, "v0:{timestamp}:{raw body}"))`` (compared in constant time),
``X-Slack-Request-Timestamp`` within 5 minutes of now, and a signature already seen within that
window is refused as a replay. A refused request gets 401 and changes nothing.

What a click does is delegated to an :class:`InteractionHandler`, so the endpoint does not depend
on how acknowledgement is implemented. :class:`EngineInteractionHandler` silences a group for real
through the engine; acknowledging and resolving need incidents, which the engine does not have yet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tocsin.matchers import Matcher, MatchType

if TYPE_CHECKING:
    import httpx

    from tocsin.engine.engine import Engine

log = logging.getLogger(__name__)

MAX_AGE = 300.0
SILENCE_SECONDS = 3600.0


@dataclass(slots=True)
class GroupRef:
    """The alert group a button belongs to, as carried in the button's value."""

    group_key: str
    tenant_id: str
    labels: dict[str, str]


@dataclass(slots=True)
class Outcome:
    """What happened, shown to the clicking user as an ephemeral message."""

    ok: bool
    text: str


class InteractionHandler(Protocol):
    async def ack_group(self, group: GroupRef, user: str) -> Outcome: ...

    async def resolve_group(self, group: GroupRef, user: str) -> Outcome: ...

    async def silence_group(self, group: GroupRef, user: str) -> Outcome: ...


class EngineInteractionHandler:
    """Acts on tocsin's engine: Silence 1h creates a silence with the group's labels as equality
    matchers. Acknowledge and Resolve report that incidents are not available yet."""

    def __init__(self, engine: Engine, silence_seconds: float = SILENCE_SECONDS) -> None:
        self.engine = engine
        self.silence_seconds = silence_seconds

    def _labels(self, group: GroupRef) -> dict[str, str]:
        for g in self.engine.groups(group.tenant_id):
            if g.key == group.group_key:
                return dict(g.labels)
        return dict(group.labels)

    async def silence_group(self, group: GroupRef, user: str) -> Outcome:
        from tocsin.engine.silences import Silence

        labels = self._labels(group)
        if not labels:
            return Outcome(False, "This group has no labels to silence on; create the silence in tocsin.")
        now = self.engine.clock.now()
        sil = Silence(
            matchers=[Matcher.create(k, MatchType.EQUAL, v) for k, v in sorted(labels.items())],
            starts_at=now,
            ends_at=now + self.silence_seconds,
            created_by=f"slack:{user}",
            comment="Silenced for 1h from Slack",
            tenant_id=group.tenant_id,
        )
        sid = await self.engine.set_silence(sil)
        return Outcome(True, f"Silenced for 1h by <@{user}> (silence {sid}).")

    async def ack_group(self, group: GroupRef, user: str) -> Outcome:
        return await self._incident_action(group, user, "acknowledged")

    async def resolve_group(self, group: GroupRef, user: str) -> Outcome:
        return await self._incident_action(group, user, "resolved")

    async def _incident_action(self, group: GroupRef, slack_user: str, done: str) -> Outcome:
        from tocsin.incidents.lifecycle import TransitionError

        svc = self.engine.incidents
        if svc is None:
            return Outcome(
                False, "Incidents are not configured on this tocsin, so there is nothing to " + done[:-1]
            )
        incident_id = svc.manager.by_group.get(group.group_key)
        if incident_id is None:
            return Outcome(False, "There is no incident for this alert group yet.")
        # The Slack user becomes the tocsin user with that slack_id, when there is one.
        user = next(
            (u.id for u in svc.manager.setup.directory.users.values() if u.slack_id == slack_user),
            f"slack:{slack_user}",
        )

        def op(m: Any, now: float) -> Any:
            if done == "acknowledged":
                return m.acknowledge(incident_id, user, now, "slack")
            return m.resolve(incident_id, user, now, "slack")

        try:
            await svc.act(op)
        except TransitionError as e:
            return Outcome(False, f"{incident_id}: {e}")
        return Outcome(True, f"{incident_id} {done} by <@{slack_user}>.")


class SignatureVerifier:
    """Slack's v0 request signature, with a replay window."""

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time, max_age: float = MAX_AGE):
        if not signing_secret:
            raise ValueError("the Slack signing secret is empty")
        self.secret = signing_secret.encode()
        self.clock = clock
        self.max_age = max_age
        self.seen: OrderedDict[str, float] = OrderedDict()

    def sign(self, timestamp: str, body: bytes) -> str:
        base = b"v0:" + timestamp.encode() + b":" + body
        return "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()

    def check(self, timestamp: str | None, signature: str | None, body: bytes) -> str | None:
        """None when the request is genuine and fresh, else why it is refused."""
        if not timestamp or not signature:
            return "missing Slack signature headers"
        try:
            ts = int(timestamp)
        except ValueError:
            return "bad timestamp"
        now = self.clock()
        if abs(now - ts) > self.max_age:
            return "stale timestamp"
        if not hmac.compare_digest(self.sign(timestamp, body), signature):
            return "bad signature"
        while self.seen and next(iter(self.seen.values())) < now - self.max_age:
            self.seen.popitem(last=False)
        if signature in self.seen:
            return "replayed request"
        self.seen[signature] = float(ts)
        return None


def _group(value: str) -> GroupRef | None:
    try:
        d = json.loads(value)
    except ValueError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("gk", ""), str):
        return None
    labels = d.get("l") or {}
    if not isinstance(labels, dict):
        return None
    return GroupRef(
        str(d.get("gk", "")), str(d.get("t") or "default"), {str(k): str(v) for k, v in labels.items()}
    )


def slack_routes(
    signing_secret: str,
    handler: InteractionHandler,
    *,
    path: str = "/api/tocsin/v1/slack/interactions",
    clock: Callable[[], float] = time.time,
    client: httpx.AsyncClient | None = None,
) -> list[Route]:
    """The route to mount; Slack's app "Request URL" points at ``<external url><path>``.

    The outcome of each click is posted to the payload's ``response_url`` as an ephemeral
    message (Slack ignores the body of the reply to a block action)."""
    verifier = SignatureVerifier(signing_secret, clock)

    async def tell(response_url: str, text: str) -> None:
        import httpx  # only when someone clicks: see notify/retry_http

        body = {"response_type": "ephemeral", "replace_original": False, "text": text}
        try:
            if client is not None:
                await client.post(response_url, json=body, timeout=5.0)
            else:
                async with httpx.AsyncClient() as c:
                    await c.post(response_url, json=body, timeout=5.0)
        except httpx.HTTPError as e:
            log.warning("could not post the Slack action outcome: %s", type(e).__name__)

    async def interactions(request: Request) -> Response:
        body = await request.body()
        why = verifier.check(
            request.headers.get("x-slack-request-timestamp"), request.headers.get("x-slack-signature"), body
        )
        if why is not None:
            log.warning("Slack interaction refused: %s", why)
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            payload = json.loads(parse_qs(body.decode())["payload"][0])
        except (KeyError, IndexError, ValueError, UnicodeDecodeError):
            return JSONResponse(
                {"error": "body must be form data with a JSON payload field"}, status_code=400
            )
        if not isinstance(payload, dict) or payload.get("type") != "block_actions":
            # Other interaction types (shortcuts, view submissions) are not used by tocsin.
            return Response(status_code=200)
        user_d = payload.get("user") or {}
        user = str(user_d.get("id") or user_d.get("username") or "unknown")
        texts: list[str] = []
        for action in payload.get("actions") or []:
            action_id = action.get("action_id")
            act: Any = {
                "ack": handler.ack_group,
                "resolve": handler.resolve_group,
                "silence_1h": handler.silence_group,
            }.get(action_id)
            if act is None:
                continue  # link buttons also send a callback; nothing to do for them
            group = _group(str(action.get("value", "")))
            if group is None:
                return JSONResponse({"error": f"action {action_id}: malformed value"}, status_code=400)
            outcome: Outcome = await act(group, user)
            log.info("Slack %s on group %r by %s: %s", action_id, group.group_key, user, outcome.text)
            texts.append(outcome.text)
        response_url = payload.get("response_url")
        if texts and isinstance(response_url, str) and response_url.startswith(("https://", "http://")):
            await tell(response_url, "\n".join(texts))
        return Response(status_code=200)

    return [Route(path, interactions, methods=["POST"])]
