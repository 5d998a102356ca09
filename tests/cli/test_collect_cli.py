"""`irkit collect` and `irkit verify` end to end: subprocesses against irkit.sim and moto."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import command_records
from helpers import IrkitProcess
from moto.server import ThreadedMotoServer

from irkit.sim import SimCluster

BUCKET = "ir-evidence"


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "KUBECONFIG"}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )
    return env


@pytest.fixture
def s3(aws_env: dict[str, str], moto_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    return client


def collect_args(sim: SimCluster, *extra: str) -> list[str]:
    target = ["collect", "deployment/api-server", "-n", "production"]
    return [*target, "--kubeconfig", sim.kubeconfig_path, "--out", "evidence", *extra]


def test_collect_to_s3_then_verify(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path, aws_env: dict[str, str], s3: Any
) -> None:
    args = collect_args(sim, "--s3", f"s3://{BUCKET}/cases/2026", "--tag", "case=42")
    done = irkit_cli(*args, "--incident", "inc-cli", "-o", "json", environ=aws_env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    tarball = Path(summary["tarball"])
    if not tarball.is_absolute():
        tarball = tmp_path / tarball
    assert tarball.is_file() and tarball.name.startswith("irkit-evidence-inc-cli-")
    sidecar = tarball.with_name(tarball.name + ".sha256")
    sha256 = hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert sidecar.read_text() == f"{sha256}  {tarball.name}\n"
    assert summary["sha256"] == sha256 and summary["status"] == "complete"
    assert summary["failures"] == [] and summary["files"] > 10
    key = f"cases/2026/{tarball.name}"
    assert summary["s3"] == [f"s3://{BUCKET}/{key}"]
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == tarball.stat().st_size
    assert head["Metadata"]["sha256"] == sha256
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"irkit-incident": "inc-cli", "case": "42"}
    folder = tmp_path / summary["bundle"]
    custody = json.loads((folder / "custody.json").read_text())
    assert custody["aws_caller_identity"]["Arn"].startswith("arn:aws:")
    assert custody["collector"]["command"].startswith("irkit collect deployment/api-server")
    commands = tmp_path / "incidents" / "inc-cli" / "journal.jsonl"  # IRKIT_HOME=tmp_path
    journal = command_records(commands)
    assert journal[-1]["command"] == "collect" and journal[-1]["outputs"]["sha256"] == sha256

    for where in (str(tarball), str(folder), f"s3://{BUCKET}/{key}"):
        ok = irkit_cli("verify", where, environ=aws_env)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith(f"OK {where}:")

    log = next(folder.glob("logs/*/api.log"))
    log.write_bytes(log.read_bytes().replace(b"INFO", b"info", 1))
    next(folder.glob("state/pods/*.yaml")).unlink()
    bad = irkit_cli("verify", str(folder), environ=aws_env)
    assert bad.returncode == 6, bad.stderr
    assert f"changed: {log.relative_to(folder).as_posix()}" in bad.stdout
    assert "missing: state/pods/" in bad.stdout
    assert "1 changed, 1 missing, 0 extra" in bad.stderr


def test_text_output_prints_tarball_and_sha256(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    done = irkit_cli(*collect_args(sim, "--concurrency", "2"), environ=env)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    tarball = tmp_path / lines["tarball"].strip()
    assert tarball.is_file()
    assert lines["sha256"].strip() == hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert "\x1b[" not in done.stdout  # no progress bars when stdout is not a terminal


def test_failed_upload_keeps_the_local_bundle(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path, aws_env: dict[str, str], s3: Any
) -> None:
    done = irkit_cli(*collect_args(sim, "--s3", "s3://no-such-bucket/x"), environ=aws_env)
    assert done.returncode == 1, done.stderr
    assert "NoSuchBucket" in done.stderr and "the local bundle is kept" in done.stderr
    (tarball,) = (tmp_path / "evidence").glob("*.tar.gz")
    assert str(tarball.name) in done.stderr
    assert irkit_cli("verify", str(tarball), environ=aws_env).returncode == 0


def test_partial_collection_exits_3(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path
) -> None:
    viewer = sim.write_kubeconfig(tmp_path / "viewer.kubeconfig", user="oncall-viewer")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    args = ["collect", "deployment/api-server", "-n", "production", "--out", "evidence"]
    done = irkit_cli(*args, "--kubeconfig", viewer, "-o", "json", environ=env)
    assert done.returncode == 3, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "partial"
    failed = {f["artifact"] for f in summary["failures"]}
    assert "state/networkpolicies" in failed and "state/rbac/clusterrolebindings" in failed
    assert not [a for a in failed if a.startswith("logs/")]  # the viewer may read logs
    assert "failure(s)" in done.stderr and Path(tmp_path / summary["tarball"]).is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--since", "yesterday"], "--since 'yesterday'"),
        (["--actor", "api-server"], "--actor 'api-server'"),
        (["--s3", "https://bucket/x"], "not an S3 URI"),
        (["--s3", "s3://bucket", "--sse", "des"], "sse must be"),
        (["--incident", "../etc"], "invalid incident id"),
    ],
)
def test_bad_options_fail_before_collecting(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path, extra: list[str], message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    done = irkit_cli(*collect_args(sim, *extra), environ=env)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert not (tmp_path / "evidence").exists()


def test_verify_nothing(irkit_cli: IrkitProcess, tmp_path: Path) -> None:
    done = irkit_cli("verify", str(tmp_path / "none.tar.gz"), environ=dict(os.environ))
    assert done.returncode == 6 and "no bundle at" in done.stderr


def test_verify_ties_the_tarball_to_the_journal_and_its_sidecar(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    done = irkit_cli(*collect_args(sim, "-i", "inc-7", "-o", "json"), environ=env)
    assert done.returncode == 0, done.stderr
    tarball = tmp_path / json.loads(done.stdout)["tarball"]
    actual = hashlib.sha256(tarball.read_bytes()).hexdigest()
    ok = irkit_cli("verify", str(tarball), "--incident", "inc-7", environ=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "note: sha256 matches the journal of incident inc-7" in ok.stdout

    journal = tmp_path / "incidents" / "inc-7" / "journal.jsonl"  # IRKIT_HOME is tmp_path
    journal.write_text(journal.read_text().replace(actual, "0" * 64))
    for args in (["--incident", "inc-7"], []):  # named, or found from the manifest's incident
        bad = irkit_cli("verify", str(tarball), *args, environ=env)
        assert bad.returncode == 6, bad.stdout + bad.stderr
        assert "0" * 64 in bad.stdout and actual in bad.stdout

    tarball.with_name(tarball.name + ".sha256").unlink()
    journal.unlink()
    alone = irkit_cli("verify", str(tarball), environ=env)
    assert alone.returncode == 6 and "no .sha256 sidecar" in alone.stdout
    given = irkit_cli("verify", str(tarball), "--sha256", actual, environ=env)
    assert given.returncode == 0, given.stdout + given.stderr


def test_verify_a_deeply_nested_manifest_exits_6(irkit_cli: IrkitProcess, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    done = irkit_cli("verify", str(folder), environ=dict(os.environ))
    assert done.returncode == 6, done.stderr
    assert "nested too deeply" in done.stderr and "Traceback" not in done.stderr


def test_collect_says_audit_was_not_collected_and_warns_about_zero_pods(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path
) -> None:
    from irkit.cluster.kube import connect
    from irkit.settings import ClusterSettings

    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    done = irkit_cli(*collect_args(sim), environ=env)
    assert done.returncode == 0, done.stderr
    assert "audit:   not collected: no audit source given" in done.stdout
    assert "WARNING" not in done.stderr

    admin = connect(ClusterSettings(kubeconfig=sim.kubeconfig_path))
    admin.patch(
        "deployments", "production", "api-server", {"spec": {"replicas": 0}}, subresource="scale"
    )
    empty = irkit_cli(*collect_args(sim, "-o", "json", "--out", "evidence-2"), environ=env)
    assert empty.returncode == 0, empty.stderr
    assert "WARNING 0 pods collected" in empty.stderr
    summary = json.loads(empty.stdout)
    assert summary["pods"] == 0 and summary["warnings"][0].startswith("0 pods collected")
    assert summary["audit"]["collected"] is False


def test_collect_state_only_is_a_sealed_snapshot(
    irkit_cli: IrkitProcess, sim: SimCluster, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    done = irkit_cli(*collect_args(sim, "--state-only", "-i", "inc-3", "-o", "json"), environ=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    folder = tmp_path / summary["bundle"]
    assert folder.name.startswith("irkit-snapshot-inc-3-")
    assert (folder / "state" / "pods").is_dir() and not (folder / "logs").exists()
    assert irkit_cli("verify", summary["tarball"], environ=env).returncode == 0
    refused = irkit_cli(*collect_args(sim, "--state-only", "--audit-log", "a.log"), environ=env)
    assert refused.returncode == 2 and "--state-only reads no audit events" in refused.stderr
