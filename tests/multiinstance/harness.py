"""Several OpenNRM instances as separate processes on loopback, each with its own instance folder (keys, secrets)
and its own database, run as the product runs them: the web server (gunicorn, `opennrm.wsgi`) and the outbox
worker (`manage.py deliver_outbox --loop`), with the product's settings (`opennrm.settings`), configured only by
environment variables.

The database is a SQLite file in the instance folder; when the suite runs on PostgreSQL (`DATABASE_URL` of the
test process, as in `make pytest-postgres`), each instance gets a database of its own on that server instead,
dropped afterwards (`PostgresDatabases`).

The test talks to an instance over HTTP (its JSON API with a token, its cooperation inbox) and through its
management commands. Where no API shows a fact (delivery attempts of the outbox, refused messages) it reads the
instance's database read-only (`Instance.query`).

Every process is started in its own session (process group) and `Instance.stop` ends the whole group, so no
server or worker outlives the test when it fails; on Linux each also asks the kernel to be stopped when the test
process dies, even killed outright.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
MANAGE = str(REPO / "manage.py")

# Variables of the test process that must not leak into an instance: each is configured from scratch.
_INHERITED_PREFIXES = ("OPENNRM_", "DJANGO_", "DATABASE_URL", "TEST_DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
# Bytecode of the many short-lived processes, kept out of the source tree: each process then starts in about a
# second instead of compiling Django and OpenNRM again.
PYCACHE = REPO / "build" / "pycache"


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a child asks the kernel for SIGTERM when the test process dies, even killed outright: a crashed
    or timed-out run leaves no server behind. (Prepared here: the child only makes the system call.)"""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def ask() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

    return ask


_DIE_WITH_PARENT = _parent_death_signal()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parallel[T](calls: Iterable[Callable[[], T]]) -> list[T]:
    """Run independent set-up steps (one per instance) side by side; the first failure is raised."""
    calls = list(calls)
    with ThreadPoolExecutor(max_workers=max(len(calls), 1)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def wait_until[T](
    check: Callable[[], T | None], *, what: str, timeout: float = 60.0, interval: float = 0.2
) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last value: {last!r})")
        time.sleep(interval)


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any

    def __str__(self) -> str:
        return f"HTTP {self.status}: {json.dumps(self.data, ensure_ascii=False)[:800]}"


class CommandFailed(AssertionError):
    pass


@dataclass
class Instance:
    """One OpenNRM instance. `code` is its cooperation identity and country (GE, UA, MD)."""

    code: str
    root: Path
    settings: dict[str, str] = field(default_factory=dict)
    database_url: str = ""  # empty: SQLite in the instance folder
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.root / "opennrm.sqlite3"

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
        return {
            **base,
            "DJANGO_SETTINGS_MODULE": "opennrm.settings",
            "OPENNRM_INSTANCE_DIR": str(self.root),
            "OPENNRM_COUNTRY": self.code,
            "OPENNRM_COOP_URL": self.url,
            "OPENNRM_HTTPS": "false",
            "OPENNRM_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "OPENNRM_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
            **({"DATABASE_URL": self.database_url} if self.database_url else {}),
            **self.settings,
        }

    # --- management commands -------------------------------------------------------------------------------

    def manage(self, *args: str, input: str | None = None, timeout: float = 180.0) -> str:
        """Run `manage.py <args>` for this instance; its standard output, or a failure with both outputs."""
        done = subprocess.run(  # noqa: S603 - fixed interpreter and script
            [PYTHON, MANAGE, *args],
            input=input,
            env=self.env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise CommandFailed(
                f"[{self.code}] manage.py {' '.join(args)} exited {done.returncode}\n"
                f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def script(self, source: str) -> Any:
        """Run Python in `manage.py shell` (set-up steps that have no command); it prints one JSON line last."""
        output = self.manage("shell", "-v", "0", input=source)
        lines = [line for line in output.splitlines() if line.strip()]
        if not lines:
            raise CommandFailed(f"[{self.code}] the shell script printed nothing")
        return json.loads(lines[-1])

    # --- processes ------------------------------------------------------------------------------------------

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        log = (self.root / f"{name}.log").open("ab")
        try:
            process = subprocess.Popen(  # noqa: S603 - fixed interpreter and arguments
                list(args),
                env=self.env(),
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends it and every child it forked
                preexec_fn=_DIE_WITH_PARENT,  # a single system call, prepared in the parent
            )
        finally:
            log.close()
        self.processes.append(process)

    def start(self) -> None:
        """Start the web server and the outbox worker (not waiting for them: see `wait_ready`)."""
        self._spawn(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "opennrm.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--chdir",
                str(REPO / "src"),
                "--graceful-timeout",
                "2",
            ],
        )
        self._spawn("worker", [PYTHON, MANAGE, "deliver_outbox", "--loop", "--interval", "0.5"])

    def wait_ready(self, timeout: float = 90.0) -> None:
        def healthy() -> bool:
            for process in self.processes:
                if process.poll() is not None:
                    raise AssertionError(
                        f"[{self.code}] a process exited with {process.returncode}\n{self.logs()}"
                    )
            try:
                return self.get("/healthz").status == 200
            except OSError:
                return False

        wait_until(healthy, what=f"{self.code} to answer /healthz", timeout=timeout)

    def stop(self) -> None:
        """End the web server and the worker with their whole process groups, and wait for them."""
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=10)
            _signal_group(process, signal.SIGKILL)  # anything the leader left behind in its group
        self.processes.clear()

    def logs(self, lines: int = 40) -> str:
        parts = []
        for name in ("web", "worker"):
            path = self.root / f"{name}.log"
            if path.exists():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {self.code} {name}.log\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- HTTP -----------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        timeout: float = 30.0,
    ) -> Reply:
        headers = {"Accept": "application/json", "Accept-Language": "en"}
        if token:
            headers["Authorization"] = f"Token {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            self.url + path, data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return Reply(response.status, _decode(response.read()))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, _decode(exc.read()))

    def get(self, path: str, *, token: str | None = None) -> Reply:
        return self.request("GET", path, token=token)

    def post(self, path: str, data: Any = None, *, token: str | None = None) -> Reply:
        return self.request("POST", path, token=token, json_body=data if data is not None else {})

    # --- read-only look at the database -------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read the instance's database read-only (only where no API shows the fact). `?` marks parameters."""
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as pg:
                pg.read_only = True
                return list(pg.execute(sql.replace("?", "%s"), params).fetchall())
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            return list(connection.execute(sql, params).fetchall())
        finally:
            connection.close()


class PostgresDatabases:
    """When the suite runs on PostgreSQL (DATABASE_URL of the test process), each instance gets a database of its
    own on that server, created with the application's role (it has CREATEDB) and dropped afterwards."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created: list[str] = []

    @staticmethod
    def wanted() -> str:
        url = os.environ.get("DATABASE_URL", "")
        return url if url.startswith(("postgres://", "postgresql://")) else ""

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def create(self, label: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        name = f"opennrm_e2e_{os.getpid()}_{label.lower()}"
        with self._admin() as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}"')
            pg.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))

    def drop_all(self) -> None:
        with self._admin() as pg:
            for name in self.created:
                pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")[:2000]


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # the process leads its own group (start_new_session)


# --- set-up of people ---------------------------------------------------------------------------------------

_PEOPLE_SCRIPT = """
import json, secrets
from opennrm.accounts import services
from opennrm.accounts.models import Agency
from opennrm.accounts.roles import Role, Scope
from opennrm.core.crypto import get_keyring

get_keyring()  # created now, before several processes of the instance start at once
spec = json.loads({spec!r})
agencies = {{}}
for a in spec["agencies"]:
    agencies[a["key"]] = Agency.objects.create(
        country=a["country"], name=a["name"], short_name=a["name"][:40], kind=a["kind"], region=a.get("region", "")
    )
users = {{}}
for u in spec["users"]:
    user = services.create_user(
        actor=None, username=u["username"], password=secrets.token_urlsafe(24),
        first_name=u["username"].title(), last_name="E2e",
    )
    services.grant_membership(
        actor=None, user=user, agency=agencies[u["agency"]], role=Role(u["role"]), scope=Scope(u["scope"])
    )
    _token, raw = services.create_api_token(actor=user, name="end-to-end test")
    users[u["username"]] = {{"id": user.public_id, "token": raw}}
print(json.dumps({{"agencies": {{k: a.public_id for k, a in agencies.items()}}, "users": users}}))
"""


@dataclass(frozen=True)
class Agency:
    key: str
    name: str
    kind: str
    region: str = ""


@dataclass(frozen=True)
class Person:
    username: str
    role: str
    agency: str  # an Agency key
    scope: str = "agency"


@dataclass
class People:
    agencies: dict[str, str]  # key -> public id
    tokens: dict[str, str]  # username -> API token
    ids: dict[str, str]  # username -> public id


def create_people(instance: Instance, agencies: Sequence[Agency], people: Sequence[Person]) -> People:
    """Agencies, users with memberships and an API token each, through the accounts services."""
    spec = {
        "agencies": [
            {"key": a.key, "name": a.name, "kind": a.kind, "region": a.region, "country": instance.code}
            for a in agencies
        ],
        "users": [
            {"username": p.username, "role": p.role, "agency": p.agency, "scope": p.scope} for p in people
        ],
    }
    made = instance.script(_PEOPLE_SCRIPT.format(spec=json.dumps(spec)))
    return People(
        agencies=made["agencies"],
        tokens={name: u["token"] for name, u in made["users"].items()},
        ids={name: u["id"] for name, u in made["users"].items()},
    )
