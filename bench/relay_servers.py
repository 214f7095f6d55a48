"""Server processes of the relay benchmark: a throwaway demo database, the relay servers, the fake model."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import StampingServer
from realtime_agents.engine.testing import ScriptedResponse

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"
SETTINGS = "bench.relay_settings"
CHANNEL = "demo"
# "-floor": the bare relay as a raw ASGI app (bench/relay_asgi.py) under that server; uvicorn is optional.
# "daphne-baseline": the demo project from another source tree (--baseline), for A/B runs under one load.
SERVER_KINDS = ("daphne", "bare", "daphne-floor", "uvicorn", "uvicorn-floor", "daphne-baseline")
RECORDING_KINDS = ("daphne", "uvicorn", "daphne-baseline")
DEFAULT_KINDS = ("daphne", "bare")


def make_server(*, response: ScriptedResponse, cpus: Sequence[int] | None) -> StampingServer:
    """The fake-server process's factory: pinned where asked, answering every request with `response`."""
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    return StampingServer(api_key=API_KEY, default_response=response, record_audio=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Wait until something accepts on 127.0.0.1:`port`; fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f}s")


@dataclass(frozen=True, kw_only=True)
class BenchDatabase:
    """Where the demo project's throwaway database is, as the environment the server processes need."""

    label: str
    env: Mapping[str, str]


def _manage(env: Mapping[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


@contextlib.contextmanager
def bench_database(workdir: Path) -> Iterator[BenchDatabase]:
    """A fresh database (PostgreSQL if DATABASE_URL is set, else SQLite) with the demo data; dropped after."""
    base = {"DJANGO_SETTINGS_MODULE": SETTINGS, "DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(12)}
    url = os.environ.get("DATABASE_URL", "")
    dropper = None
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        name = f"realtime_agents_bench_{secrets.token_hex(4)}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        head, _, _ = url.rpartition("/")
        env = {**base, "BENCH_DATABASE_URL": f"{head}/{name}"}
        label = f"PostgreSQL (throwaway database {name} on {url.split('@')[-1].rpartition('/')[0]})"

        def dropper() -> None:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        env = {**base, "BENCH_SQLITE_PATH": str(workdir / "bench.sqlite3")}
        label = "SQLite (throwaway file; set DATABASE_URL for PostgreSQL)"
    try:
        _manage(env, "migrate", "--noinput")
        _manage(env, "realtime_agents_demo")
        # The demo greeting would start an answer on connect; the bench starts every answer itself.
        _manage(
            env,
            "shell",
            "-c",
            "from realtime_agents.models import Channel; "
            f"Channel.objects.filter(slug={CHANNEL!r}).update(greeting='')",
        )
        yield BenchDatabase(label=label, env=env)
    finally:
        if dropper is not None:
            dropper()


def recorded_counts(database: BenchDatabase) -> dict[str, int]:
    """Rows the recorder wrote: conversations, finalised ones, transcript items (assistant ones)."""
    script = (
        "import json; from realtime_agents.models import Conversation, TranscriptItem; "
        "print(json.dumps({'conversations': Conversation.objects.count(), "
        "'finalised': Conversation.objects.exclude(ended_at=None).count(), "
        "'items': TranscriptItem.objects.count(), "
        "'assistant_items': TranscriptItem.objects.filter(role='assistant').count()}))"
    )
    return dict(json.loads(_manage(database.env, "shell", "-c", script).strip().splitlines()[-1]))


class ServerProcess:
    """One relay server (Daphne with the demo project, or the bare relay) as a pinned subprocess."""

    def __init__(
        self,
        *,
        kind: str,
        upstream_url: str,
        database: BenchDatabase,
        workdir: Path,
        cpus: Sequence[int] | None,
        profile_path: str | None = None,
        source_root: Path = ROOT,
    ) -> None:
        if kind not in SERVER_KINDS:
            raise ValueError(f"server kind must be one of {', '.join(SERVER_KINDS)}, got {kind!r}")
        self.source_root = source_root
        self.kind = kind
        self.port = free_port()
        self.cpus = tuple(cpus or ())
        self.log_path = workdir / f"{kind}-{self.port}.log"
        self._upstream_url = upstream_url
        self._database = database
        self._profile_path = profile_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: object = None

    @property
    def url(self) -> str:
        """The WebSocket URL browsers connect to."""
        if self.kind == "bare":
            return f"ws://127.0.0.1:{self.port}/"
        return f"ws://127.0.0.1:{self.port}/ws/realtime/{CHANNEL}/"

    @property
    def origin(self) -> str:
        """An Origin the demo channel allows (its site's host)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def _command(self) -> list[str]:
        python = [sys.executable]
        if self._profile_path:
            python += ["-m", "cProfile", "-o", self._profile_path]
        app = "bench.relay_asgi:application" if self.kind.endswith("-floor") else "project.asgi:application"
        if self.kind.startswith("daphne"):
            return [*python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), app]
        if self.kind.startswith("uvicorn"):
            # Same WebSocket library as the bare relay; no compression, as Daphne and the bench clients.
            return [
                *python,
                "-m",
                "uvicorn",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws",
                "websockets",
                "--ws-per-message-deflate",
                "false",
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
                app,
            ]
        return [
            *python,
            "-m",
            "bench.relay_bare",
            "--port",
            str(self.port),
            "--upstream",
            self._upstream_url,
            "--api-key",
            API_KEY,
        ]

    def __enter__(self) -> ServerProcess:
        env = {
            **os.environ,
            **self._database.env,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_REALTIME_URL": self._upstream_url,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DATABASE_URL", None)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__
        self._log = log
        self._process = subprocess.Popen(
            self._command(), cwd=self.source_root, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            if self.cpus:
                os.sched_setaffinity(self._process.pid, set(self.cpus))
            wait_for_port(self.port, self._process, timeout=60)
        except BaseException:
            self.__exit__()
            raise
        return self

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server printed."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # SIGINT: Daphne (Twisted) and the bare relay both shut down cleanly, so cProfile writes its file.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A temporary directory for the database file and server logs, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
