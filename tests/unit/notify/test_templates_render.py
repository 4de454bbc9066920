"""Template rendering: Alertmanager's data names, defaults per channel, overrides, errors."""

from __future__ import annotations

import pytest

from tocsin.model import Alert
from tocsin.notify.templates import (
    CHANNEL_PARTS,
    TemplateError,
    render_email_html,
    render_string,
    render_template,
    sample_notification,
    template_data,
)


@pytest.fixture
def data() -> dict:
    return template_data(sample_notification())


def test_alertmanager_names_in_jinja(data: dict) -> None:
    src = (
        "{{ Receiver }}|{{ Status }}|{{ Alerts|length }}|{{ Alerts.Firing|length }}|"
        "{{ Alerts.Resolved|length }}|{{ GroupLabels.alertname }}|{{ CommonLabels.service }}|"
        "{{ CommonAnnotations.runbook_url }}|{{ ExternalURL }}"
    )
    assert render_string(src, data) == (
        "team-api|firing|2|2|0|HighLatency|api|https://runbooks.example.com/high-latency|"
        "http://tocsin.example.com:9093"
    )


def test_label_helpers(data: dict) -> None:
    assert render_string("{{ CommonLabels.Names|join(',') }}", data) == "alertname,service,severity"
    assert render_string(
        "{% for p in CommonLabels.SortedPairs %}{{ p.Name }}={{ p.Value }};{% endfor %}", data
    ) == ("alertname=HighLatency;service=api;severity=critical;")
    assert render_string("{{ CommonLabels.Remove(['alertname']).Values|join(' ') }}", data) == "api critical"


def test_label_named_like_a_dict_method_reads_the_label() -> None:
    n = sample_notification()
    n.common_labels = {"items": "3", "keys": "k"}
    assert render_string("{{ CommonLabels.items }}/{{ CommonLabels.keys }}", template_data(n)) == "3/k"


def test_tocsin_links(data: dict) -> None:
    out = render_string("{{ tocsin.group_url }} {{ tocsin.silence_url }} [{{ tocsin.ack_url }}]", data)
    # Both links lead to pages tocsin serves: the group in API v2, and the silence form.
    base = "http://tocsin.example.com:9093"
    assert out.startswith(f"{base}/api/v2/alerts/groups?filter=alertname%3D%22HighLatency%22 ")
    assert "/api/tocsin/v1/silence-link?filter=alertname%3D%22HighLatency%22 " in out
    assert out.endswith("[]"), "no acknowledge link without an incident"


def test_resolved_alert_data() -> None:
    data = template_data(sample_notification("resolved"))
    a = data["Alerts"][0]
    assert a.Status == "resolved" and a.EndsAt is not None
    assert render_string("{{ Alerts.Resolved|length }}", data) == "2"


@pytest.mark.parametrize("channel", sorted(CHANNEL_PARTS))
def test_every_channel_default_renders(channel: str) -> None:
    for status in ("firing", "resolved"):
        parts = render_template(channel, sample_notification(status))
        assert set(parts) == set(CHANNEL_PARTS[channel])
        assert all(v.strip() for v in parts.values()), (channel, status, parts)


def test_truncated_alerts_are_mentioned() -> None:
    n = sample_notification()
    n.truncated_alerts = 5
    assert "5 more" in render_template("email", n)["text"]


def test_override_replaces_default() -> None:
    parts = render_template("slack", overrides={"title": "{{ .CommonLabels.alertname | toUpper }}"})
    assert parts["title"] == "HIGHLATENCY"
    assert "p99 latency" in parts["text"]  # the other part keeps its default


def test_unknown_channel_and_part_are_named() -> None:
    with pytest.raises(TemplateError, match="unknown channel 'fax'"):
        render_template("fax")
    with pytest.raises(TemplateError, match="has no part subject"):
        render_template("slack", overrides={"subject": "x"})


def test_syntax_error_names_template_and_line() -> None:
    with pytest.raises(TemplateError, match=r"slack title: line 2"):
        render_template("slack", overrides={"title": "ok\n{% if %}"})


def test_runtime_error_is_a_template_error(data: dict) -> None:
    with pytest.raises(TemplateError, match="error"):
        render_string('{{ go_reReplaceAll("(", "x", "y") }}', data)


def test_sandbox_blocks_internals(data: dict) -> None:
    # Unsafe attributes are undefined in the sandbox, so nothing of Python's internals leaks.
    assert render_string("{{ Alerts.__class__.__mro__ }}", data) == ""
    with pytest.raises(TemplateError):
        render_string("{{ Alerts.__class__.__subclasses__() }}", data)


def test_email_html_escapes_label_values() -> None:
    n = sample_notification()
    n.alerts = [Alert(labels={"alertname": "<script>x</script>"}, ends_at=n.now + 10)]
    html = render_email_html(template_data(n), "<p>{{ Alerts[0].Labels.alertname }}</p>")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_email_html_default_is_inlined_markdown(data: dict) -> None:
    html = render_email_html(data)
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<style" not in html
    assert '<span class="firing" style="color: #c62828;">2 firing</span>' in html
    assert "<table" in html and "<td" in html
