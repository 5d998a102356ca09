"""The processes bench/webhook.py runs, each on 127.0.0.1 and stopped by it: ``irkit sim serve``,
``irkit serve``, a throwaway PostgreSQL; and HTTP posting from keep-alive connections."""

from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    sys.exit(f"timed out after {timeout:.0f}s waiting for {what}")


class Sim:
    """``irkit sim serve --scenario S`` and its audit log (one JSON line per request)."""

    def __init__(self, scenario: Path, folder: Path) -> None:
        self.kubeconfig, self.audit = folder / "kubeconfig", folder / "audit.log"
        cmd = [sys.executable, "-m", "irkit", "sim", "serve", "--scenario", str(scenario)]
        cmd += ["--kubeconfig-out", str(self.kubeconfig), "--audit-log", str(self.audit)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.process.stdout is not None and self.process.stderr is not None
        for line in self.process.stdout:  # "kubeconfig: ..." once it serves
            if line.startswith(b"kubeconfig:"):
                break
        else:
            sys.exit(f"irkit sim serve failed: {self.process.stderr.read().decode()}")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class PolicyWatch:
    """A watch on every NetworkPolicy (the official client, in a thread): the time each was
    first seen ADDED, as ``time.time()`` when its event arrived, by name."""

    def __init__(self, kubeconfig: Path) -> None:
        from kubernetes import client, config, watch

        api = client.NetworkingV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        self.added: dict[str, float] = {}
        self._watch = watch.Watch()
        listed = api.list_network_policy_for_all_namespaces()
        for item in listed.items:
            self.added[item.metadata.name] = 0.0
        ready = threading.Event()

        def run() -> None:
            stream = self._watch.stream(
                api.list_network_policy_for_all_namespaces,
                resource_version=listed.metadata.resource_version,
                timeout_seconds=3600,
            )
            ready.set()
            try:
                for event in stream:
                    if event["type"] == "ADDED":
                        self.added.setdefault(event["object"].metadata.name, time.time())
            except Exception:  # the simulator stopped under the watch: the bench is over
                return

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)

    def stop(self) -> None:
        self._watch.stop()


class Serve:
    """``irkit serve`` with a token, on a free port; ready once /readyz answers 200."""

    def __init__(self, folder: Path, runbooks: Path, kubeconfig: Path, store: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        token_file = folder / "token"
        self.token = "bench-token-" + os.urandom(16).hex()
        token_file.write_text(self.token)
        token_file.chmod(0o600)
        cmd = [sys.executable, "-m", "irkit", "serve", "--runbooks", str(runbooks)]
        cmd += ["--listen", f"127.0.0.1:{self.port}", "--token-file", str(token_file)]
        cmd += ["--kubeconfig", str(kubeconfig), *store]
        self.log = folder / "serve.log"
        env = {**os.environ, "IRKIT_HOME": str(folder / "home")}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(self._ready, 60, f"irkit serve /readyz (log: {self.log})")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            sys.exit(f"irkit serve exited:\n{self.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Postgres:
    """A throwaway PostgreSQL: initdb + pg_ctl in ``folder``, 127.0.0.1 on a free port, trust
    auth for user ``irkit``; as root, run as the ``postgres`` user (initdb refuses root)."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            raise RuntimeError("initdb/pg_ctl are not on PATH")
        self.folder, self.port = folder, free_port()
        self.data = folder / "data"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        folder.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "irkit", "--auth=trust", "-E", "UTF8")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {folder} -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(folder / "log"), "-w", "-o", options,
                  "start")  # fmt: skip
        self.url = f"postgresql://irkit@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self.as_user, *argv], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr or done.stdout}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def post(conn: http.client.HTTPConnection, path: str, body: bytes, token: str) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    conn.request("POST", path, body=body, headers=headers)
    reply = conn.getresponse()
    data = reply.read()
    try:
        return reply.status, json.loads(data)
    except ValueError:
        return reply.status, None


def post_many(
    url: str, path: str, bodies: list[bytes], token: str, clients: int
) -> tuple[list[tuple[int, Any]], float]:
    """POST every body from ``clients`` threads (one keep-alive connection each), all starting
    together; the answers in body order, and the wall time of the whole burst."""
    host, port = url.removeprefix("http://").split(":")
    work: queue.Queue[int] = queue.Queue()
    for i in range(len(bodies)):
        work.put(i)
    answers: list[tuple[int, Any]] = [(0, None)] * len(bodies)
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        start.wait()
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                break
            try:
                answers[i] = post(conn, path, bodies[i], token)
            except (OSError, http.client.HTTPException) as e:
                answers[i] = (-1, str(e))
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return answers, time.perf_counter() - began
