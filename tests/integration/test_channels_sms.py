"""SMS: Twilio's Messages API (form fields, Basic auth) and AWS SNS Publish, whose SigV4
signature the test server recomputes with botocore's signer."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from _channels_httpd import Provider, Seen, integration, provider_fixture  # noqa: F401

from tocsin.notify.base import NotifyError
from tocsin.notify.sms_text import segments
from tocsin.notify.templates import sample_notification

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token-secret"
AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def _twilio(url: str, extra: str = "") -> str:
    return f"""  twilio_configs:
  - account_sid: {SID}
    auth_token: {TOKEN}
    from: '+15550001111'
    to: ['+15551234567', '+15557654321']
    api_url: {url}{extra}
"""


async def test_twilio_message_request(provider: Provider) -> None:
    provider.reply(201, {"sid": "SM1", "status": "queued"})
    provider.reply(201, {"sid": "SM2", "status": "queued"})
    await integration(_twilio(provider.url)).notify(sample_notification())
    assert len(provider.seen) == 2
    for req, to in zip(provider.seen, ["+15551234567", "+15557654321"], strict=True):
        assert (req.method, req.path) == ("POST", f"/2010-04-01/Accounts/{SID}/Messages.json")
        assert req.headers["content-type"] == "application/x-www-form-urlencoded"
        assert req.headers["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        form = req.form()
        assert form["To"] == to and form["From"] == "+15550001111"
        assert form["Body"].startswith("FIRING:2 HighLatency")
        assert segments(form["Body"]) <= 2


async def test_twilio_long_body_is_cut_to_max_segments(provider: Provider) -> None:
    extra = (
        "\n    max_segments: 1\n"
        "    message: '{{ range .Alerts }}{{ .Annotations.summary }}: "
        "{{ .Annotations.description }} {{ end }}'"
    )
    provider.reply(201, {"sid": "SM1"})
    provider.reply(201, {"sid": "SM2"})
    await integration(_twilio(provider.url, extra)).notify(sample_notification())
    body = provider.seen[0].form()["Body"]
    assert segments(body) == 1 and body.endswith("...")


async def test_twilio_retry_after_partial_failure_skips_delivered(provider: Provider) -> None:
    integ = integration(_twilio(provider.url))
    n = sample_notification()
    provider.reply(201, {"sid": "SM1"})
    provider.reply(429, {"code": 20429, "message": "Too Many Requests"}, Retry_After="2")
    with pytest.raises(NotifyError) as e:
        await integ.notify(n)
    assert e.value.retryable and e.value.retry_after == 2.0
    provider.reply(201, {"sid": "SM3"})
    await integ.notify(n)  # the retry of the same notification
    assert [r.form()["To"] for r in provider.seen] == ["+15551234567", "+15557654321", "+15557654321"]


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (400, False), (401, False)])
async def test_twilio_errors(provider: Provider, status: int, retryable: bool) -> None:
    provider.reply(status, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": status})
    with pytest.raises(NotifyError) as e:
        await integration(_twilio(provider.url)).notify(sample_notification())
    assert e.value.retryable is retryable
    assert TOKEN not in str(e.value)


def test_twilio_config_errors_are_clear() -> None:
    from tocsin.config import ConfigError

    with pytest.raises(ConfigError, match=r"E\.164"):
        integration(f"""  twilio_configs:
  - account_sid: {SID}
    auth_token: x
    from: '+1555'
    to: '5551234'
""")


# --- SNS -----------------------------------------------------------------------------------------
def _sns(url: str, target: str) -> str:
    return f"""  sns_configs:
  - api_url: {url}/
    {target}
    sigv4:
      region: eu-west-1
      access_key: {AK}
      secret_key: {SK}
    attributes:
      team: api
"""


def _verify_sigv4(req: Seen, url: str) -> None:
    """Recompute the request's signature with botocore from the headers it says it signed."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth_header = req.headers["authorization"]
    algo, _, rest = auth_header.partition(" ")
    assert algo == "AWS4-HMAC-SHA256"
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    signed = fields["SignedHeaders"].split(";")
    assert {"host", "x-amz-date", "content-type"} <= set(signed)
    amz_date = req.headers["x-amz-date"]
    assert fields["Credential"] == f"{AK}/{amz_date[:8]}/eu-west-1/sns/aws4_request"
    assert req.headers["host"] == urlsplit(url).netloc
    aws = AWSRequest(method=req.method, url=url, data=req.body, headers={h: req.headers[h] for h in signed})
    aws.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(AK, SK), "sns", "eu-west-1")
    canonical = signer.canonical_request(aws)
    expected = signer.signature(signer.string_to_sign(aws, canonical), aws)
    assert fields["Signature"] == expected
    when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 300


SNS_OK = (
    '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
    "<MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult></PublishResponse>"
)


async def test_sns_topic_publish_signed(provider: Provider) -> None:
    provider.reply(200, SNS_OK)
    await integration(_sns(provider.url, "topic_arn: arn:aws:sns:eu-west-1:123456789012:alerts")).notify(
        sample_notification()
    )
    req = provider.last
    assert (req.method, req.path) == ("POST", "/")
    assert req.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    _verify_sigv4(req, provider.url + "/")
    form = req.form()
    assert form["Action"] == "Publish" and form["Version"] == "2010-03-31"
    assert form["TopicArn"] == "arn:aws:sns:eu-west-1:123456789012:alerts"
    assert form["Subject"] == "[FIRING:2] HighLatency (api critical)"
    assert "p99 latency above 2s on api-1:9100" in form["Message"]
    assert form["MessageAttributes.entry.1.Name"] == "team"
    assert form["MessageAttributes.entry.1.Value.DataType"] == "String"
    assert form["MessageAttributes.entry.1.Value.StringValue"] == "api"
    assert SK not in req.body.decode()


async def test_sns_phone_number_sms(provider: Provider) -> None:
    provider.reply(200, SNS_OK)
    await integration(_sns(provider.url, "phone_number: '+15551234567'")).notify(sample_notification())
    req = provider.last
    _verify_sigv4(req, provider.url + "/")
    form = req.form()
    assert form["PhoneNumber"] == "+15551234567"
    assert "TopicArn" not in form and "Subject" not in form
    attrs = {form[f"MessageAttributes.entry.{i}.Name"]: form[f"MessageAttributes.entry.{i}.Value.StringValue"]
             for i in range(1, 4) if f"MessageAttributes.entry.{i}.Name" in form}  # fmt: skip
    assert attrs["AWS.SNS.SMS.SMSType"] == "Transactional"
    assert segments(form["Message"]) <= 2
    assert form["Message"].startswith("FIRING:2 HighLatency")


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (400, "Throttling", True),
        (429, "Throttled", True),
        (500, "InternalError", True),
        (400, "InvalidParameter", False),
        (403, "AuthorizationError", False),
        (404, "NotFound", False),
    ],
)
async def test_sns_errors(provider: Provider, status: int, code: str, retryable: bool) -> None:
    provider.reply(
        status,
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        "<Message>it failed</Message></Error></ErrorResponse>",
    )
    with pytest.raises(NotifyError) as e:
        await integration(_sns(provider.url, "topic_arn: arn:aws:sns:eu-west-1:1:t")).notify(
            sample_notification()
        )
    assert e.value.retryable is retryable
    assert code in str(e.value)
    assert SK not in str(e.value)
