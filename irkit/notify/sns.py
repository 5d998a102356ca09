"""The AWS SNS adapter of the ``Notifier`` port: one ``sns.publish`` per notification.

Kept apart from the stdlib senders so the core never imports boto3; ``irkit.notify.notifier_for``
imports this module only when a runbook step really uses SNS.

The message goes out as plain text (title, message, incident, severity, fields) with the incident
and severity also as message attributes, for subscription filter policies. A FIFO topic gets the
incident as its message group and a content hash as deduplication id, so a retried step within
SNS's five-minute window is not delivered twice.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from irkit.errors import NotifyError, UsageError, cut
from irkit.notify.port import Notification, NotifyResult, truncate

MAX_BYTES = 200 * 1024  # of the message; SNS takes 256 KiB with subject and attributes
SUBJECT_CHARS = 99  # SNS: "less than 100 characters", printable ASCII, no line breaks
_ARN = re.compile(
    r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"
)
_TRANSIENT = (ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError)
_THROTTLED = frozenset({"Throttling", "ThrottlingException", "ThrottledException"})


class SnsTopic:
    channel = "sns"

    def __init__(
        self, topic_arn: str, region: str | None = None, endpoint_url: str | None = None
    ) -> None:
        match = _ARN.match(topic_arn)
        if match is None:
            raise UsageError(
                f"SNS topic ARN {topic_arn[:120]!r} is malformed",
                hint="expected arn:aws:sns:REGION:ACCOUNT_ID:TOPIC_NAME",
            )
        if region and region != match["region"]:
            raise UsageError(
                f"region {region!r} does not match the topic's region {match['region']!r}"
            )
        self.topic_arn = topic_arn
        self.region = match["region"]
        self.endpoint_url = endpoint_url

    def __repr__(self) -> str:
        return f"SnsTopic({self.topic_arn!r})"

    def send(self, message: Notification) -> NotifyResult:
        body, truncated = truncate(sns_body(message), MAX_BYTES)
        args: dict[str, Any] = {"TopicArn": self.topic_arn, "Message": body}
        subject = sns_subject(message.title)
        if subject:
            args["Subject"] = subject
        attributes = {"incident": message.incident, "severity": message.severity}
        args["MessageAttributes"] = {
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v
        }
        if self.topic_arn.endswith(".fifo"):
            args["MessageGroupId"] = message.incident or "irkit"
            args["MessageDeduplicationId"] = hashlib.sha256(body.encode()).hexdigest()
        try:
            response = self._client().publish(**args)
        except (BotoCoreError, ClientError) as e:
            raise self._error(e) from e
        message_id = str(response.get("MessageId", ""))
        return NotifyResult(self.channel, self.topic_arn, "sent", message_id, truncated)

    def _client(self) -> Any:
        config = Config(
            connect_timeout=10, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}
        )
        session = boto3.session.Session(region_name=self.region)
        return session.client("sns", endpoint_url=self.endpoint_url, config=config)

    def _error(self, e: Exception) -> NotifyError:
        where = f"sns notification to {self.topic_arn} failed"
        if isinstance(e, ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code") or "?")
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            transient = code in _THROTTLED or (isinstance(status, int) and status >= 500)
            return NotifyError(
                f"{where}: {code}: {cut(str(err.get('Message', '')))}",
                destination=self.topic_arn,
                status=status if isinstance(status, int) else None,
                transient=transient,
                hint=_hint(code),
            )
        hint = None
        if isinstance(e, NoCredentialsError):
            hint = "give AWS credentials (AWS_PROFILE, environment, or an instance/pod role)"
        return NotifyError(
            f"{where}: {type(e).__name__}: {cut(str(e))}",
            destination=self.topic_arn,
            transient=isinstance(e, _TRANSIENT),
            hint=hint,
        )


def sns_body(message: Notification) -> str:
    facts = {"incident": message.incident, "severity": message.severity, **message.fields}
    lines = [f"{k}: {v}" for k, v in facts.items() if v]
    parts = [message.title, message.message, "\n".join(lines)]
    return "\n\n".join(p for p in parts if p)


def sns_subject(title: str) -> str:
    """SNS refuses a subject with line breaks, non-ASCII or 100+ characters: make one it takes."""
    text = "".join(c if " " <= c <= "~" else " " for c in title)
    text = " ".join(text.split())
    return text if len(text) <= SUBJECT_CHARS else text[: SUBJECT_CHARS - 1] + "~"


def _hint(code: str) -> str | None:
    if code in ("NotFound", "NotFoundException"):
        return "check the topic ARN (and its region), or create the topic"
    if code in ("AuthorizationError", "AccessDenied", "AccessDeniedException"):
        return "the identity needs sns:Publish on the topic (and kms:GenerateDataKey if encrypted)"
    if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken"):
        return "check the AWS credentials: aws sts get-caller-identity"
    return None
