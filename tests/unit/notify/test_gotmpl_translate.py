"""Alertmanager Go-template syntax in existing configs, translated to Jinja2."""

from __future__ import annotations

import pytest

from tocsin.notify.templates import TemplateError, render_string, sample_notification, template_data
from tocsin.notify.templates.gotmpl import GoTemplateError, looks_like_go, translate


@pytest.fixture(scope="module")
def data() -> dict:
    return template_data(sample_notification())


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("{{ .CommonLabels.alertname }}", "HighLatency"),
        ("{{ .Status }} {{ .Receiver }}", "firing team-api"),
        ("{{ len .Alerts }}", "2"),
        ("{{ .Alerts.Firing | len }}", "2"),
        ("{{ range .Alerts }}{{ .Labels.instance }};{{ end }}", "api-1:9100;api-2:9100;"),
        ("{{ range .Alerts }}{{ $.Receiver }}{{ end }}", "team-apiteam-api"),
        ("{{ range $i, $a := .Alerts }}{{ $i }}{{ $a.Labels.instance }} {{ end }}",
         "0api-1:9100 1api-2:9100 "),
        ("{{ range $a := .Alerts }}{{ $a.Status }}{{ end }}", "firingfiring"),
        ('{{ if eq .Status "firing" }}F{{ else }}R{{ end }}', "F"),
        ('{{ if eq .Status "resolved" }}R{{ else if gt (len .Alerts) 1 }}many{{ else }}one{{ end }}', "many"),
        ("{{ range .Alerts.Resolved }}x{{ else }}none{{ end }}", "none"),
        ("{{ with .CommonLabels.service }}svc={{ . }}{{ end }}", "svc=api"),
        ("{{ with .CommonLabels.nothing }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }},{{ end }}",
         "alertname=HighLatency,service=api,severity=critical,"),
        ("{{ range $k, $v := .GroupLabels }}{{ $k }}:{{ $v }}{{ end }}", "alertname:HighLatency"),
        ('{{ .CommonLabels.alertname | toUpper }} {{ toLower "ABC" }} {{ title "high latency" }}',
         "HIGHLATENCY abc High Latency"),
        ('{{ join ", " .CommonLabels.Values }}', "HighLatency, api, critical"),
        ('{{ .CommonLabels.Values | join "+" }}', "HighLatency+api+critical"),
        ('{{ index .CommonLabels "service" }}', "api"),
        ('{{ printf "%s has %d alerts" .Receiver (len .Alerts) }}', "team-api has 2 alerts"),
        ('{{ reReplaceAll "api-(\\\\d)" "host$1" "api-7" }}', "host7"),
        ('{{ if and .Alerts (not .TruncatedAlerts) }}ok{{ end }}', "ok"),
        ('{{ if or .TruncatedAlerts .Receiver }}{{ .Receiver }}{{ end }}', "team-api"),
        ("{{/* a comment */}}x", "x"),
        ("{{ $r := .Receiver }}{{ $r }}!", "team-api!"),
        ("a\n{{- .Status -}}\nb", "afiringb"),
        ('{{ template "slack.default.title" . }}', "[FIRING:2] HighLatency (api critical)"),
        ('{{ template "__subject" . }}', "[FIRING:2] HighLatency (api critical)"),
        ("{{ .CommonLabels.Remove .GroupLabels.Names | len }}", "2"),
        ('{{ range .Alerts }}{{ .StartsAt.Format "2006-01-02 15:04:05 MST" }};{{ end }}',
         "2023-11-14 21:58:20 UTC;2023-11-14 21:58:20 UTC;"),
        ('{{ (index .Alerts 0).StartsAt.Format "Jan 02 15:04" }}', "Nov 14 21:58"),
        ("{{ (index .Alerts 1).Labels.instance }}", "api-2:9100"),
        ('{{ (index .Alerts 0).StartsAt | tz "Europe/Paris" | date "15:04 MST" }}', "22:58 CET"),
        ('{{ .Status }} {% raw %} {{ "{# x #}" }}', "firing {% raw %} {# x #}"),
    ],
)  # fmt: skip
def test_translations_render_like_go(data: dict, src: str, expected: str) -> None:
    assert render_string(src, data) == expected


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("{{ if .Status }}", "no matching {{ end }}"),
        ("{{ end }}", "end without"),
        ('{{ define "x" }}y{{ end }}', "'define' is not supported"),
        ("{{ .Status | nosuch }}", "unknown function 'nosuch'"),
        ("{{ .Status .Receiver }}", "is not a function"),
        ("{{ (len .Alerts }}", "unbalanced"),
    ],
)
def test_unsupported_constructs_are_named(src: str, message: str) -> None:
    with pytest.raises(GoTemplateError, match=message):
        translate(src)


def test_errors_surface_as_template_errors(data: dict) -> None:
    with pytest.raises(TemplateError, match="define"):
        render_string('{{ define "x" }}{{ end }}', data)
    with pytest.raises(TemplateError, match="named template 'nope'"):
        render_string('{{ template "nope" . }}', data)


@pytest.mark.parametrize(
    ("src", "go"),
    [
        ("{{ .Status }}", True),
        ("{{ range .Alerts }}{{ end }}", True),
        ("{{ toUpper .Status }}", True),
        ('{{ toUpper "x" }}', True),
        ("{{ not Alerts }}", False),
        ("{{ len(Alerts) }}", False),
        ("{{ $.Receiver }}", True),
        ("{{ Status }}", False),
        ("{{ CommonLabels.alertname|upper }}", False),
        ("{% for a in Alerts %}{{ a.Labels.x }}{% endfor %}", False),
        ("plain text", False),
    ],
)
def test_go_detection(src: str, go: bool) -> None:
    assert looks_like_go(src) is go
