"""Shared channel helpers: circuit breaker, token buckets, SMS fitting, Retry-After, redaction."""

from __future__ import annotations

import pytest

from tocsin.notify.base import NotifyError
from tocsin.notify.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from tocsin.notify.ratelimit import RateLimits, TokenBucket
from tocsin.notify.retry_http import MAX_RETRY_AFTER, redact_url, retry_after, scrub, truncate, truncate_bytes
from tocsin.notify.sms_text import fit_sms, is_gsm7, segments


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_breaker_opens_after_consecutive_failures_and_probes() -> None:
    clock = Clock()
    b = CircuitBreaker(fail_max=3, reset_timeout=30, clock=clock)
    for _ in range(2):
        b.before_call("x")
        b.record(failure=True)
    b.record(failure=False)  # a success resets the count
    for _ in range(3):
        b.before_call("x")
        b.record(failure=True)
    assert b.state == OPEN
    with pytest.raises(NotifyError) as e:
        b.before_call("endpoint")
    assert e.value.retryable and e.value.retry_after == 30
    clock.t = 30
    assert b.state == HALF_OPEN
    b.before_call("x")  # the one probe
    with pytest.raises(NotifyError):
        b.before_call("x")  # others wait while it is in flight
    b.record(failure=False)
    assert b.state == CLOSED


def test_breaker_reopens_when_probe_fails() -> None:
    clock = Clock()
    b = CircuitBreaker(fail_max=1, reset_timeout=10, clock=clock)
    b.before_call("x")
    b.record(failure=True)
    clock.t = 10
    b.before_call("x")
    b.record(failure=True)
    assert b.state == OPEN
    clock.t = 15
    assert b.state == OPEN


def test_breaker_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fail_max"):
        CircuitBreaker(fail_max=0)
    with pytest.raises(ValueError, match="reset_timeout"):
        CircuitBreaker(reset_timeout=0)


async def test_token_bucket_waits_never_drops() -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        clock.t += s

    bucket = TokenBucket(2, per=1.0, clock=clock, sleep=sleep)
    waited = [await bucket.acquire() for _ in range(6)]
    assert waited[:2] == [0.0, 0.0]
    assert waited[2:] == pytest.approx([0.5, 0.5, 0.5, 0.5])
    assert sum(slept) == pytest.approx(2.0)


def test_rate_limits_are_per_key() -> None:
    clock = Clock()
    limits = RateLimits(1, 60.0, clock=clock)
    assert limits.bucket("a").try_acquire() == 0
    assert limits.bucket("a").try_acquire() == pytest.approx(60)
    assert limits.bucket("b").try_acquire() == 0


def test_token_bucket_bad_rate() -> None:
    with pytest.raises(ValueError, match="rate limit must be positive"):
        TokenBucket(0)


@pytest.mark.parametrize(
    ("text", "gsm", "n"),
    [("a" * 160, True, 1), ("a" * 161, True, 2), ("a" * 306, True, 2), ("a" * 307, True, 3),
     ("{" * 80, True, 1), ("{" * 81, True, 2), ("é" * 70, True, 1),
     ("ł" * 70, False, 1), ("ł" * 71, False, 2),
     ("🔥" * 35, False, 1), ("🔥" * 36, False, 2)],
)  # fmt: skip
def test_sms_segments(text: str, gsm: bool, n: int) -> None:
    assert is_gsm7(text) is gsm
    assert segments(text) == n


@pytest.mark.parametrize("max_segments", [1, 2, 3])
@pytest.mark.parametrize("unit", ["word ", "słowo ", "🔥 "])
def test_fit_sms(max_segments: int, unit: str) -> None:
    fitted = fit_sms(unit * 300, max_segments)
    assert segments(fitted) <= max_segments
    assert fitted.endswith("...")
    assert fit_sms("short  text\n") == "short text"


def test_retry_after_forms() -> None:
    assert retry_after("7") == 7.0
    assert retry_after(None) is None and retry_after("soon") is None
    assert retry_after("100000") == MAX_RETRY_AFTER
    assert retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == pytest.approx(10.0)


def test_redaction() -> None:
    assert redact_url("https://hooks.slack.com/services/T/B/SECRET") == "https://hooks.slack.com/<redacted>"
    assert redact_url("https://example.com") == "https://example.com"
    text = scrub("failed POST https://x.example/bot123:abc/send with key k-123456", ["k-123456"])
    assert text == "failed POST https://x.example/<redacted> with key <secret>"


def test_truncation() -> None:
    assert truncate("abcdef", 4) == ("abc…", True)
    assert truncate("abc", 4) == ("abc", False)
    cut, was_cut = truncate_bytes("ééé", 5)
    assert was_cut and len(cut.encode()) <= 5 and cut.endswith("…")
