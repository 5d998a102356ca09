"""Audit events of an EKS cluster from CloudWatch Logs, where EKS ships kube-apiserver's audit
log when the cluster's ``audit`` control-plane log type is on.

Group ``/aws/eks/<cluster>/cluster``, streams ``kube-apiserver-audit-*``, one audit event JSON
per log event. Read with FilterLogEvents (boto3's paginator follows ``nextToken``) over the
scope's window in epoch milliseconds. CloudWatch stamps an event when it is written, which can
be well after the request arrived (a long watch, delivery lag), so the read window runs
``late`` past ``until`` and the exact window is applied to ``requestReceivedTimestamp`` here.

A JSON filter pattern narrows the read to the scope's namespace (and actors) on the server. It
is built to keep everything ``in_scope`` can keep, and left out when it could not be
(an actor or namespace needing escaping, a pattern over CloudWatch's 1024 characters).

boto3 is imported here and in ``irkit.evidence.s3`` only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from irkit.audit.filter import aware, event_time, in_window
from irkit.audit.source import AuditEvent, AuditScope
from irkit.errors import AuditSourceError, Remedy

STREAM_PREFIX = "kube-apiserver-audit"
MAX_PATTERN = 1024  # CloudWatch's limit on filterPattern
_SAFE = re.compile(r"^[A-Za-z0-9:._@/+=-]+$")  # needs no quoting inside a JSON filter pattern
_CUT = 256


class EksAuditLogs:
    """An ``AuditSource`` over one EKS cluster's audit log in CloudWatch Logs.

    ``region``/``endpoint_url``: None = boto3's default chain. ``page_size``: events per
    FilterLogEvents call (None = the service's default). After ``events``: ``skipped`` counts
    messages that are not an audit event, ``pages`` the calls made."""

    def __init__(
        self,
        cluster_name: str,
        region: str | None = None,
        endpoint_url: str | None = None,
        *,
        late: timedelta = timedelta(minutes=15),
        page_size: int | None = None,
    ) -> None:
        self.log_group = f"/aws/eks/{cluster_name}/cluster"
        self.description = f"cloudwatch {self.log_group}"
        self.late = late
        self.page_size = page_size
        self.skipped = 0
        self.pages = 0
        try:
            self._logs: Any = boto3.session.Session(region_name=region).client(
                "logs", endpoint_url=endpoint_url
            )
        except (BotoCoreError, ClientError) as e:  # NoRegionError above all
            raise AuditSourceError(
                f"cannot reach CloudWatch Logs for {self.log_group}: {str(e)[:_CUT]}",
                remedy=Remedy("aws-region"),
            ) from e

    @property
    def region(self) -> str:
        return str(self._logs.meta.region_name)

    def events(self, scope: AuditScope) -> Iterator[AuditEvent]:
        self.skipped = 0
        self.pages = 0
        args: dict[str, Any] = {
            "logGroupName": self.log_group,
            "logStreamNamePrefix": STREAM_PREFIX,
        }
        since, until = aware(scope.since), aware(scope.until)
        if since is not None:
            args["startTime"] = _ms(since)
        if until is not None:
            args["endTime"] = _ms(until + self.late)
        pattern = filter_pattern(scope)
        if pattern is not None:
            args["filterPattern"] = pattern
        if self.page_size:
            args["PaginationConfig"] = {"PageSize": self.page_size}
        try:
            for page in self._logs.get_paginator("filter_log_events").paginate(**args):
                self.pages += 1
                for item in page.get("events", ()):
                    if not str(item.get("logStreamName", "")).startswith(STREAM_PREFIX):
                        continue  # the service filters by prefix; this guards stores that do not
                    event = self._parse(item.get("message", ""))
                    if event is not None and in_window(event_time(event), scope):
                        yield event
        except ClientError as e:
            raise self._error(e) from e
        except BotoCoreError as e:
            raise AuditSourceError(
                f"cannot read {self.log_group} in region {self.region}: {type(e).__name__}: {e}"
            ) from e

    def _parse(self, message: str) -> AuditEvent | None:
        try:
            event = json.loads(message)
        except ValueError:
            event = None
        if not isinstance(event, dict) or event_time(event) is None:
            self.skipped += 1
            return None
        return event

    def _error(self, e: Any) -> AuditSourceError:
        err = e.response.get("Error", {})
        code, message = err.get("Code", "?"), str(err.get("Message", ""))[:_CUT]
        if code == "ResourceNotFoundException":
            return AuditSourceError(
                f"log group {self.log_group} not found in region {self.region}",
                hint="turn on the cluster's audit logs: aws eks update-cluster-config "
                '--logging \'{"clusterLogging":[{"types":["audit"],"enabled":true}]}\'',
            )
        hint = None
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            hint = "the credentials need logs:FilterLogEvents on the cluster's log group"
        return AuditSourceError(
            f"cannot read {self.log_group} in region {self.region}: {code}: {message}", hint=hint
        )


def filter_pattern(scope: AuditScope) -> str | None:
    """A CloudWatch JSON filter pattern that keeps at least every event ``in_scope`` keeps:
    the namespace's objects, the Namespace itself, and the actors' requests; None if it cannot
    be written safely."""
    values = [scope.namespace, *sorted(scope.actors)]
    if not all(_SAFE.match(v) for v in values):
        return None
    ns = scope.namespace
    terms = [
        f'($.objectRef.namespace = "{ns}")',
        f'($.objectRef.resource = "namespaces" && $.objectRef.name = "{ns}")',
    ]
    for actor in sorted(scope.actors):
        terms.append(f'($.user.username = "{actor}")')
        terms.append(f'($.impersonatedUser.username = "{actor}")')
    pattern = "{ " + " || ".join(terms) + " }"
    return pattern if len(pattern) <= MAX_PATTERN else None


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
