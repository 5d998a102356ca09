"""How fast ``S3Store.put`` stores a bundle, against ``aws s3 cp`` of the same file.

Not a test: a script that prints figures for docs/performance.md. It writes a file of ``--mb``
MiB of random bytes (incompressible) in a temporary folder, starts moto's S3 server as a
separate process on 127.0.0.1 (so neither client shares an interpreter with it), then uploads
the file with each client, alternating which goes first, ``--repeat`` times:

- irkit: ``S3Store.put`` with the default ``S3Settings`` (16 MiB parts, 8 in parallel, SHA-256
  per part, whole-file SHA-256 recomputed and compared, then HeadObject verification), timed
  in-process;
- aws: ``aws s3 cp FILE s3://bucket/key --endpoint-url ...`` as a user runs it (8 MiB parts,
  10 in parallel, CRC32), timed as a subprocess, so its ~0.3-0.5 s start-up is included.

An untimed ``aws s3 cp`` first warms the server up (its first upload of a size is slower, for
whichever client goes first); each object is deleted after its run so its memory stays flat.
The best run of each is compared: ratio = aws seconds / irkit seconds (>= 1.0: irkit at least
as fast). Peak RSS growth of this process during irkit's uploads shows the memory bound (about
concurrency x part size).

    .venv/bin/python bench/upload.py [--mb 1024] [--repeat 1] [--part-mb 64] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from irkit.evidence.s3 import S3Store
from irkit.settings import MiB, S3Settings

BUCKET = "irkit-bench"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def make_file(path: Path, mib: int) -> str:
    """``mib`` MiB of random bytes; returns their hex SHA-256 (what ``collect`` would pass)."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(mib):
            chunk = os.urandom(MiB)
            digest.update(chunk)
            f.write(chunk)
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"moto server did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_irkit(store: S3Store, path: Path, sha256: str, key: str) -> float:
    start = time.perf_counter()
    stored = store.put(path, key, sha256=sha256, tags={"bench": "irkit"})
    seconds = time.perf_counter() - start
    assert stored.size == path.stat().st_size, stored
    return seconds


def run_aws(aws: str, url: str, path: Path, key: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            aws,
            "s3",
            "cp",
            str(path),
            f"s3://{BUCKET}/{key}",
            "--endpoint-url",
            url,
            "--no-progress",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=1, help="uploads per client (default 1)")
    parser.add_argument("--part-mb", type=int, default=S3Settings.part_size // MiB)
    parser.add_argument("--concurrency", type=int, default=S3Settings.concurrency)
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="skip the untimed first upload"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    aws = shutil.which("aws")
    if aws is None:
        print("aws CLI not found on PATH")
        return 1
    os.environ.update(FAKE_AWS)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)
    aws_version = subprocess.run([aws, "--version"], capture_output=True, text=True, check=True)
    print(
        f"irkit S3 upload: {platform.machine()} {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; {(aws_version.stdout or aws_version.stderr).strip()}"
    )
    print("server: moto.server in its own process on 127.0.0.1 (in-memory S3)")

    with tempfile.TemporaryDirectory(prefix="irkit-bench-") as tmp, moto_server() as url:
        path = Path(tmp) / "bundle.tar.gz"
        start = time.perf_counter()
        sha256 = make_file(path, args.mb)
        size = path.stat().st_size
        print(f"file: {args.mb} MiB random ({time.perf_counter() - start:.1f} s to write)")

        import boto3

        admin: Any = boto3.client("s3", endpoint_url=url)
        admin.create_bucket(Bucket=BUCKET)
        settings = S3Settings(
            bucket=BUCKET,
            endpoint_url=url,
            part_size=args.part_mb * MiB,
            concurrency=args.concurrency,
        )
        store = S3Store(settings)
        times: dict[str, list[float]] = {"irkit": [], "aws": []}
        if args.warmup:  # the server's first upload of this size pays for growing its heap
            run_aws(aws, url, path, "warmup")
            admin.delete_object(Bucket=BUCKET, Key="warmup")
        rss_before = peak_rss_mib()
        for run in range(args.repeat):
            order = ["irkit", "aws"] if run % 2 == 0 else ["aws", "irkit"]
            for who in order:
                key = f"{who}-{run}.tar.gz"
                if who == "irkit":
                    seconds = run_irkit(store, path, sha256, key)
                else:
                    seconds = run_aws(aws, url, path, key)
                head = admin.head_object(Bucket=BUCKET, Key=key)
                assert head["ContentLength"] == size, head
                admin.delete_object(Bucket=BUCKET, Key=key)
                times[who].append(seconds)
                print(
                    f"  run {run + 1} {who:5}  {seconds:7.2f} s  {size / MiB / seconds:7.1f} MiB/s"
                )
        rss_growth = peak_rss_mib() - rss_before

    best = {who: min(t) for who, t in times.items()}
    print()
    print(
        f"irkit S3Store.put ({args.part_mb} MiB parts x {args.concurrency}, verified): "
        f"{best['irkit']:.2f} s, {size / MiB / best['irkit']:.1f} MiB/s"
    )
    print(f"aws s3 cp (incl. start-up): {best['aws']:.2f} s, {size / MiB / best['aws']:.1f} MiB/s")
    print(f"ratio irkit/aws speed: {best['aws'] / best['irkit']:.2f} (target >= 1.0)")
    print(f"peak RSS growth of this process during irkit uploads: {rss_growth:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
