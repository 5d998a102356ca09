"""notify adapters against a real loopback HTTP server (Slack, generic webhook) and moto (SNS)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from irkit.actions.notify import Notification, notify
from irkit.actions.wait import wait
from irkit.errors import NotifyError, UsageError
from irkit.notify import notifier_for
from irkit.notify.slack import SlackWebhook
from irkit.notify.sns import SnsTopic
from irkit.notify.webhook import WEBHOOK_MAX_BYTES, GenericWebhook

SECRET_PATH = "/services/T0001/B0002/XoXbSeCrEtToKeN42"
NOTE = Notification(
    title="Crypto miner in production",
    message="api-server-0 runs xmrig <!channel> & <https://evil.example|click>",
    incident="INC-7",
    severity="critical",
    fields={"namespace": "production"},
)


@dataclass
class Hook:
    """A loopback HTTP server that records each request and answers from a script."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    delay: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SECRET_PATH}"

    def answer(self, status: int, body: bytes = b"ok", **headers: str) -> None:
        self.script.append((status, headers, body))


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
            )
            time.sleep(state.delay)
            status, headers, reply = state.script.pop(0) if state.script else (200, {}, b"ok")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# ---- Slack ---------------------------------------------------------------------------------------
def test_slack_payload_shape_and_escaping(hook: Hook) -> None:
    result = SlackWebhook(hook.url).send(NOTE)
    assert (result.channel, result.status, result.detail) == ("slack", "sent", "HTTP 200")
    assert result.destination == f"http://127.0.0.1:{hook.port}" and not result.truncated
    [req] = hook.requests
    assert req["path"] == SECRET_PATH
    assert req["headers"]["Content-Type"] == "application/json"
    payload = req["json"]
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
    header, section, facts = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Crypto miner in production"},
    }
    text = section["text"]
    assert text["type"] == "mrkdwn"
    # Alert text is data: no @channel ping, no disguised link.
    assert "<!channel>" not in text["text"] and "&lt;!channel&gt;" in text["text"]
    assert "&amp; &lt;https://evil.example|click&gt;" in text["text"]
    assert "<" not in payload["text"] and payload["text"].startswith("Crypto miner in production:")
    assert [f["text"] for f in facts["fields"]] == [
        "*Incident*\nINC-7",
        "*Severity*\ncritical",
        "*namespace*\nproduction",
    ]


def test_slack_cuts_an_oversized_message_and_says_so(hook: Hook) -> None:
    big = Notification("t", "x" * 100_000, "INC-1", "high")
    result = SlackWebhook(hook.url).send(big)
    assert result.truncated
    sections = [b["text"]["text"] for b in hook.requests[0]["json"]["blocks"] if "text" in b]
    text = "".join(sections[1:])  # after the header
    assert len(text.encode()) <= 40_000
    assert text.endswith("limit 40000]") and "cut by irkit" in text
    assert all(len(s) <= 3000 for s in sections)


def test_slack_escaping_cannot_push_past_slack_block_limits(hook: Hook) -> None:
    SlackWebhook(hook.url).send(Notification("t", "&" * 39_000))  # 5x longer once escaped
    blocks = hook.requests[0]["json"]["blocks"]
    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) == 14 and all(len(s) <= 3000 for s in sections)
    assert sections[0].startswith("&amp;&amp;") and sections[-1].endswith("cut by irkit]")


# ---- generic webhook -----------------------------------------------------------------------------
def test_generic_webhook_payload_and_headers(hook: Hook) -> None:
    hooked = GenericWebhook(hook.url, {"Authorization": "Bearer s3cr3t", "X-Team": "sre"})
    result = hooked.send(NOTE)
    assert (result.channel, result.status) == ("webhook", "sent")
    [req] = hook.requests
    assert req["headers"]["Authorization"] == "Bearer s3cr3t"
    assert req["headers"]["X-Team"] == "sre"
    body = req["json"]
    assert body["source"] == "irkit"
    assert body["title"] == NOTE.title and body["message"] == NOTE.message  # verbatim: data
    assert (body["incident"], body["severity"]) == ("INC-7", "critical")
    assert body["fields"] == {"namespace": "production"} and body["truncated"] is False
    assert body["sent_at"].endswith("Z")
    assert "s3cr3t" not in repr(hooked) and SECRET_PATH not in repr(hooked)


def test_generic_webhook_size_limit(hook: Hook) -> None:
    result = GenericWebhook(hook.url).send(Notification("t", "é" * 100_000))
    message = hook.requests[0]["json"]["message"]
    assert result.truncated and hook.requests[0]["json"]["truncated"] is True
    assert len(message.encode()) <= WEBHOOK_MAX_BYTES
    assert message.startswith("éé") and "cut by irkit" in message


def test_a_header_with_a_line_break_is_refused_without_its_value() -> None:
    with pytest.raises(UsageError, match="'X-Token'") as err:
        GenericWebhook("https://hooks.example/x", {"X-Token": "abc\r\nInjected: 1"})
    assert "abc" not in str(err.value)


# ---- retries and errors --------------------------------------------------------------------------
def test_500_then_success_is_retried(hook: Hook) -> None:
    hook.answer(500, b"oops")
    sleeps = Sleeps()
    result = SlackWebhook(hook.url, sleep=sleeps).send(NOTE)
    assert result.status == "sent"
    assert len(hook.requests) == 2 and sleeps == [1.0]
    assert hook.requests[0]["json"] == hook.requests[1]["json"]


def test_429_honours_retry_after(hook: Hook) -> None:
    hook.answer(429, b"slow down", Retry_After="2")
    sleeps = Sleeps()
    GenericWebhook(hook.url, sleep=sleeps).send(NOTE)
    assert sleeps == [2.0] and len(hook.requests) == 2


def test_400_is_not_retried_and_the_error_hides_the_url_path(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    # A server that echoes the request path must not get the token into our message either.
    hook.answer(400, f"invalid_payload for POST {SECRET_PATH}".encode())
    sleeps = Sleeps()
    with caplog.at_level(logging.DEBUG), pytest.raises(NotifyError) as err:
        SlackWebhook(hook.url, sleep=sleeps).send(NOTE)
    message = str(err.value)
    assert len(hook.requests) == 1 and sleeps == []
    assert f"slack notification to http://127.0.0.1:{hook.port} failed: HTTP 400" in message
    assert "invalid_payload" in message
    assert "XoXbSeCrEtToKeN42" not in message and "/services" not in message
    assert err.value.status == 400 and not err.value.transient
    assert err.value.destination == f"http://127.0.0.1:{hook.port}"
    assert "XoXbSeCrEtToKeN42" not in caplog.text


def test_404_hints_at_a_revoked_webhook(hook: Hook) -> None:
    hook.answer(404, b"no_service")
    with pytest.raises(NotifyError) as err:
        SlackWebhook(hook.url).send(NOTE)
    assert err.value.hint is not None and "revoked" in err.value.hint


def test_5xx_every_time_gives_up_after_three_attempts(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(5):
        hook.answer(503, b"down")
    sleeps = Sleeps()
    with caplog.at_level(logging.WARNING), pytest.raises(NotifyError, match="HTTP 503") as err:
        GenericWebhook(hook.url, sleep=sleeps).send(NOTE)
    assert len(hook.requests) == 3 and sleeps == [1.0, 3.0]
    assert err.value.transient
    assert "retrying" in caplog.text and f"127.0.0.1:{hook.port}" in caplog.text
    assert SECRET_PATH not in caplog.text


def test_redirects_are_not_followed(hook: Hook) -> None:
    hook.answer(302, b"", Location=f"http://127.0.0.1:{hook.port}/elsewhere")
    with pytest.raises(NotifyError, match="HTTP 302") as err:
        SlackWebhook(hook.url).send(NOTE)
    assert len(hook.requests) == 1
    assert err.value.hint is not None and "redirect" in err.value.hint


def test_connection_refused_is_retried_then_named(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    with caplog.at_level(logging.WARNING), pytest.raises(NotifyError) as err:
        SlackWebhook(f"http://127.0.0.1:{port}{SECRET_PATH}", sleep=sleeps).send(NOTE)
    assert "no connection" in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
    assert err.value.transient and len(sleeps) == 2
    assert SECRET_PATH not in str(err.value) and SECRET_PATH not in caplog.text


def test_a_slow_server_times_out(hook: Hook) -> None:
    hook.delay = 1.0
    start = time.monotonic()
    with pytest.raises(NotifyError, match="timed out"):
        SlackWebhook(hook.url, timeout=0.2, attempts=1).send(NOTE)
    assert time.monotonic() - start < 0.9


# ---- URL rules -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.slack.com/services/T1/B2/SeCrEt", "plain http is allowed for localhost"),
        ("ftp://hooks.example/SeCrEt", "scheme 'ftp'"),
        ("file:///etc/SeCrEt", "no host"),
        ("https:///SeCrEt", "no host"),
        ("https://user:SeCrEt@hooks.example/x", "credentials"),
        ("https://hooks.example/SeCrEt two", "spaces"),
        ("https://hooks.example:99999/SeCrEt", "malformed"),
    ],
)
def test_only_https_or_loopback_http(url: str, words: str) -> None:
    with pytest.raises(UsageError, match=words) as err:
        SlackWebhook(url)
    assert "SeCrEt" not in str(err.value)


def test_loopback_http_and_any_https_are_accepted() -> None:
    for url in (
        "http://localhost:8080/x",
        "http://[::1]:8080/x",
        "http://127.0.0.1/x",
        "https://hooks.slack.com/services/T/B/x",
        "HTTPS://Hooks.Example/x",
    ):
        assert "/x" not in repr(SlackWebhook(url))


# ---- the action and the factory ------------------------------------------------------------------
def test_notify_returns_the_step_outputs(hook: Hook) -> None:
    assert notify(SlackWebhook(hook.url), NOTE) == {"channel": "slack", "status": "sent"}
    assert notify(GenericWebhook(hook.url), NOTE, dry_run=True) == {
        "channel": "webhook",
        "status": "dry-run",
    }
    assert len(hook.requests) == 1  # the dry run sent nothing


def test_notifier_for_builds_each_channel() -> None:
    assert isinstance(notifier_for("slack", url="https://h.example/x"), SlackWebhook)
    assert isinstance(notifier_for("webhook", url="https://h.example/x"), GenericWebhook)
    arn = "arn:aws:sns:eu-west-1:123456789012:incidents"
    sns = notifier_for("sns", topic_arn=arn)
    assert isinstance(sns, SnsTopic) and sns.region == "eu-west-1"
    with pytest.raises(UsageError, match="needs 'url'"):
        notifier_for("slack")
    with pytest.raises(UsageError, match="unknown channel 'email'"):
        notifier_for("email", url="https://h.example/x")


def test_wait_sleeps_and_measures() -> None:
    now = [100.0]
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:
        sleeps(seconds)
        now[0] += seconds

    result = wait(2.5, sleep=sleep, clock=lambda: now[0])
    assert sleeps == [2.5] and result.waited == 2.5 and not result.dry_run
    assert wait(9, dry_run=True, sleep=sleep).waited == 0.0 and sleeps == [2.5]
    for bad in (0, -1, 3601, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="seconds"):
            wait(bad, sleep=sleep)


# ---- SNS (moto) ----------------------------------------------------------------------------------
@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


def _subscribed_queue(topic_arn: str, fifo: bool = False) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    name, attrs = ("inbox.fifo", {"FifoQueue": "true"}) if fifo else ("inbox", {})
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns", region_name="us-east-1").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn
    )
    return sqs, url


def _received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_sns_publishes_text_subject_and_attributes(aws: None) -> None:
    topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="incidents")
    sqs, queue = _subscribed_queue(topic["TopicArn"])
    note = Notification(
        "Miner\nfound — in prod " + "x" * 150, "xmrig on api-server-0", "INC-9", "high", {"ns": "p"}
    )
    result = SnsTopic(topic["TopicArn"]).send(note)
    assert (result.channel, result.status, result.destination) == ("sns", "sent", topic["TopicArn"])
    [envelope] = _received(sqs, queue)
    assert envelope["MessageId"] == result.detail
    assert envelope["Message"].startswith("Miner\nfound — in prod")
    assert "xmrig on api-server-0" in envelope["Message"]
    assert "incident: INC-9\nseverity: high\nns: p" in envelope["Message"]
    subject = envelope["Subject"]
    assert subject.startswith("Miner found in prod xxx") and len(subject) < 100
    assert subject.isascii() and "\n" not in subject
    attrs = envelope["MessageAttributes"]
    assert attrs["incident"] == {"Type": "String", "Value": "INC-9"}
    assert attrs["severity"] == {"Type": "String", "Value": "high"}


def test_sns_fifo_topic_gets_group_and_dedup_ids(aws: None) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    arn = sns.create_topic(Name="incidents.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    sqs, queue = _subscribed_queue(arn, fifo=True)
    topic = SnsTopic(arn)
    topic.send(NOTE)
    topic.send(NOTE)  # a retried step: deduplicated by content
    assert len(_received(sqs, queue)) == 1


def test_sns_missing_topic_is_a_notify_error_with_a_hint(aws: None) -> None:
    arn = "arn:aws:sns:us-east-1:123456789012:nope"
    with pytest.raises(NotifyError, match=f"sns notification to {arn} failed: NotFound") as err:
        SnsTopic(arn).send(NOTE)
    assert err.value.hint is not None and "topic ARN" in err.value.hint
    assert not err.value.transient


def test_sns_without_credentials_says_so(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    # No mock_aws here (it brings credentials of its own); botocore stops before any request,
    # and the endpoint is a loopback port in case it did not.
    topic = SnsTopic("arn:aws:sns:us-east-1:123456789012:incidents", None, "http://127.0.0.1:9")
    with pytest.raises(NotifyError, match="NoCredentialsError") as err:
        topic.send(NOTE)
    assert err.value.hint is not None and "credentials" in err.value.hint


@pytest.mark.parametrize(
    ("arn", "region", "words"),
    [
        ("arn:aws:s3:::bucket", None, "malformed"),
        ("incidents", None, "malformed"),
        ("arn:aws:sns:us-east-1:123456789012:t", "eu-west-1", "does not match"),
    ],
)
def test_sns_topic_arn_is_checked(arn: str, region: str | None, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        SnsTopic(arn, region)


# ---- one retry level in the engine ---------------------------------------------------------------
def test_the_engine_retries_notify_only_by_the_steps_retries(
    hook: Hook, sim: Any, tmp_path: Any
) -> None:
    from irkit.cluster.kube import connect
    from irkit.engine import Adapters, run
    from irkit.runbook.loader import load_runbook
    from irkit.settings import ClusterSettings, RunSettings

    for _ in range(9):
        hook.answer(503, b"busy")
    runbook = tmp_path / "tell.yaml"
    runbook.write_text(
        "apiVersion: irkit.io/v1\nkind: Runbook\n"
        "metadata: {name: tell, description: Tell someone.}\n"
        "params: {url: {}}\n"
        "steps:\n  - id: tell\n    action: notify\n    retries: 2\n"
        "    with: {channel: slack, url: '{{ params.url }}', message: hi}\n"
    )
    adapters = Adapters(
        cluster=connect(ClusterSettings(kubeconfig=sim.kubeconfig_path)), sleep=Sleeps()
    )
    settings = RunSettings(incidents_dir=str(tmp_path / "incidents"), retry_initial=0.01)
    result = run(
        load_runbook(runbook),
        params={"url": hook.url},
        incident="inc-n",
        adapters=adapters,
        settings=settings,
    )
    assert result.status == "failed" and isinstance(result.error, NotifyError)
    assert len(hook.requests) == 3  # 1 + retries: 2, not 3 x 3


def test_notifier_for_takes_attempts(hook: Hook) -> None:
    hook.answer(503, b"busy")
    notifier = notifier_for("webhook", url=hook.url, attempts=1)
    with pytest.raises(NotifyError, match="HTTP 503"):
        notifier.send(NOTE)
    assert len(hook.requests) == 1
