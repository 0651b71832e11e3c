"""The ``tsunagu keys`` and ``tsunagu audit`` commands: issue, list, revoke and grant API keys;
verify and show the audit log. Registered on the main CLI by hub.cli."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from hub.access.audit import AuditLog, Checkpoint, Verification, audit_seal
from hub.access.checkpoints import CHECKPOINT_TOPIC, read_checkpoints
from hub.access.keys import PERMISSIONS, Grant, KeyInfo, KeyStore, Permission, UnknownKeyError
from hub.access.tables import upgrade_grants
from hub.access.units import parse_duration_ms, parse_rate_per_minute
from hub.config.model import AuditSettings
from hub.db import create_schema, make_engine
from hub.errors import ConfigError, TsunaguError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.config import Deployment

__all__ = ["audit", "keys"]

T = TypeVar("T")


def _store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--store",
        "store_url",
        default=None,
        metavar="URL",
        help="runtime store URL (default: hub.store.url of the deployment file)",
    )(command)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="deployment file (default: ./topics.yaml, else the packaged demo)",
    )(command)


def _store_url(config_path: Path | None, store_url: str | None) -> str:
    if store_url is not None:
        return store_url
    from hub.config import default_config_path, load_config  # noqa: PLC0415 - only when needed

    deployment = load_config(config_path or default_config_path())
    return deployment.hub.store.resolved_url()


def _run(
    command: str,
    config_path: Path | None,
    store_url: str | None,
    work: Callable[[AsyncEngine], Awaitable[T]],
) -> T:
    """Open the runtime store (creating missing tables), run `work`, close; exit 1 on errors."""

    async def run() -> T:
        engine = make_engine(_store_url(config_path, store_url))
        try:
            await create_schema(engine)
            await upgrade_grants(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
    except (TsunaguError, ValueError) as exc:
        message = f"unknown key {exc.args[0]}" if isinstance(exc, UnknownKeyError) else exc
        click.echo(f"tsunagu {command}: {message}", err=True)
    sys.exit(1)


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _parse_grant(text: str, expires_ms: int | None) -> Grant:
    # By suffix, not by the last colon: "registry:write" holds one itself.
    for permission in PERMISSIONS:
        topic = text.removesuffix(f":{permission}")
        if topic != text and topic:
            return Grant(topic, permission, expires_ms)
    raise click.BadParameter(
        f"{text!r} must be TOPIC:read or TOPIC:publish, or SUBJECTS:registry:write",
        param_hint="--grant",
    )


def _expiry(text: str | None, param: str) -> int | None:
    if text is None:
        return None
    try:
        duration = parse_duration_ms(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None
    return time.time_ns() // 1_000_000 + duration


def _describe_grants(info: KeyInfo) -> str:
    parts = [
        f"{g.topic}:{g.permission}" + (f" (until {_time(g.expires_ms)})" if g.expires_ms else "")
        for g in info.grants
    ]
    return ", ".join(parts) or "-"


@click.group()
def keys() -> None:
    """Issue, list, revoke and grant API keys (stored hashed; shown once on creation)."""


@keys.command("create")
@click.option("--name", required=True, help="who or what the key is for")
@click.option(
    "--grant",
    "grant_texts",
    multiple=True,
    metavar="TOPIC:PERM",
    help="topic (or glob such as kaga.*) and read|publish, or subjects and registry:write; "
    "repeatable",
)
@click.option("--expires", default=None, metavar="DURATION", help="the grants end after e.g. 30d")
@click.option("--rate", default=None, metavar="N/UNIT", help="rate limit, e.g. 600/min or 10/s")
@_store_options
def create_command(
    *,
    name: str,
    grant_texts: tuple[str, ...],
    expires: str | None,
    rate: str | None,
    config_path: Path | None,
    store_url: str | None,
) -> None:
    """Create a key; prints it once on stdout (only its id can be shown again)."""
    expires_ms = _expiry(expires, "--expires")
    grants = tuple(_parse_grant(text, expires_ms) for text in grant_texts)
    try:
        rate_per_minute = parse_rate_per_minute(rate) if rate is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate") from None
    issued = _run(
        "keys create",
        config_path,
        store_url,
        lambda engine: KeyStore(engine).create(
            name, rate_per_minute=rate_per_minute, grants=grants
        ),
    )
    # The key alone on stdout, so `KEY=$(tsunagu keys create ...)` works; the rest to stderr.
    click.echo(
        f"created {issued.info.key_id} ({name}); grants: {_describe_grants(issued.info)}", err=True
    )
    click.echo("the key below is shown only now; store it safely", err=True)
    click.echo(issued.plaintext)


@keys.command("list")
@_store_options
def list_command(config_path: Path | None, store_url: str | None) -> None:
    """List keys with their grants and rate limits (never secrets)."""
    infos = _run("keys list", config_path, store_url, lambda engine: KeyStore(engine).list())
    if not infos:
        click.echo("no keys")
        return
    click.echo(f"{'KEY ID':<20} {'NAME':<24} {'CREATED':<25} {'STATUS':<33} {'RATE':<10} GRANTS")
    for info in infos:
        status = f"revoked {_time(info.revoked_ms)}" if info.revoked else "active"
        rate = f"{info.rate_per_minute:g}/min" if info.rate_per_minute else "default"
        click.echo(
            f"{info.key_id:<20} {info.name:<24} {_time(info.created_ms):<25} {status:<33} "
            f"{rate:<10} {_describe_grants(info)}"
        )


@keys.command("revoke")
@click.argument("key_id")
@_store_options
def revoke_command(key_id: str, config_path: Path | None, store_url: str | None) -> None:
    """Revoke a key: every later request with it gets 401."""
    info = _run("keys revoke", config_path, store_url, lambda e: KeyStore(e).revoke(key_id))
    click.echo(f"revoked {info.key_id} at {_time(info.revoked_ms)}")


@keys.command("grant")
@click.argument("key_id")
@click.argument("topic")
@click.argument("permission", type=click.Choice(PERMISSIONS))
@click.option("--expires", default=None, metavar="DURATION", help="the grant ends after e.g. 30d")
@_store_options
def grant_command(
    *,
    key_id: str,
    topic: str,
    permission: str,
    expires: str | None,
    config_path: Path | None,
    store_url: str | None,
) -> None:
    """Let KEY_ID read or publish TOPIC (an exact name or a glob such as kaga.*), or, with
    registry:write, change the embedded registry's subjects that TOPIC covers (``*`` for all,
    which the global compatibility level needs; a topic's name covers its -value and -key
    subjects)."""
    grant = Grant(topic, cast(Permission, permission), _expiry(expires, "--expires"))
    _run("keys grant", config_path, store_url, lambda e: KeyStore(e).grant(key_id, grant))
    until = f" until {_time(grant.expires_ms)}" if grant.expires_ms else ""
    click.echo(f"granted {permission} on {topic} to {key_id}{until}")


@keys.command("ungrant")
@click.argument("key_id")
@click.argument("topic")
@click.argument("permission", type=click.Choice(PERMISSIONS))
@_store_options
def ungrant_command(
    key_id: str, topic: str, permission: str, config_path: Path | None, store_url: str | None
) -> None:
    """Remove a grant."""
    removed = _run(
        "keys ungrant",
        config_path,
        store_url,
        lambda e: KeyStore(e).ungrant(key_id, topic, cast(Permission, permission)),
    )
    if not removed:
        click.echo(f"tsunagu keys ungrant: {key_id} has no {permission} grant on {topic}", err=True)
        sys.exit(1)
    click.echo(f"removed {permission} on {topic} from {key_id}")


@click.group()
def audit() -> None:
    """Check and show the hash-chained audit log of subscribe, read, publish and registry-write
    attempts."""


@audit.command("verify")
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="the audit key (default: $TSUNAGU_AUDIT_KEY, hub.audit.key_file, or beside a SQLite "
    "store)",
)
@click.option(
    "--checkpoint-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="the audit checkpoint (default: hub.audit.checkpoint_file, or beside a SQLite store)",
)
@click.option(
    "--kafka/--no-kafka",
    default=True,
    show_default=True,
    help=f"also check the checkpoints on {CHECKPOINT_TOPIC} (needs the deployment file; "
    "with the embedded broker, the running hub)",
)
@_store_options
def verify_command(
    *,
    key_file: Path | None,
    checkpoint_file: Path | None,
    kafka: bool,
    config_path: Path | None,
    store_url: str | None,
) -> None:
    """Walk the chain with the audit key and check it against the checkpoints kept outside
    the store; exit 1 naming the first altered, forged or missing entry."""
    try:
        url = _store_url(config_path, store_url)
        deployment = _deployment(config_path, store_url)
        settings = deployment.hub.audit if deployment is not None else AuditSettings()
        seal = audit_seal(
            url,
            key_file=str(key_file) if key_file else settings.key_file,
            checkpoint_file=str(checkpoint_file) if checkpoint_file else settings.checkpoint_file,
        )
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except (OSError, ValueError, TsunaguError) as exc:
        click.echo(f"tsunagu audit verify: {exc}", err=True)
        sys.exit(1)
    notes: list[str] = []

    async def work(engine: AsyncEngine) -> Verification:
        points: list[Checkpoint] = []
        if seal is not None and kafka:
            if deployment is None:
                notes.append(f"no deployment file, so {CHECKPOINT_TOPIC} was not read")
            else:
                points = await _kafka_checkpoints(deployment, notes)
        return await AuditLog(engine, seal=seal).verify(points)

    result = _run("audit verify", config_path, url, work)
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    if not result.ok:
        click.echo(f"audit log broken at entry {result.bad_seq}: {result.problem}", err=True)
        click.echo(f"({result.checked} entries before it verified)", err=True)
        if seal is None:
            click.echo(
                "(no audit key was given: if the log is keyed, give its key with "
                "TSUNAGU_AUDIT_KEY or --key-file)",
                err=True,
            )
        sys.exit(1)
    click.echo(f"audit log intact: {result.checked} entries, head {result.head_hash}")
    if seal is None:
        click.echo(
            "warning: no audit key (TSUNAGU_AUDIT_KEY, --key-file or hub.audit.key_file), so "
            "only the plain hash chain was checked: someone who can write the store could "
            "have rewritten or cut it unseen",
            err=True,
        )
        return
    click.echo(f"keyed with {seal.key_source}", err=True)
    if result.checkpoint_seq is None:
        click.echo(
            "warning: no audit checkpoint, so deleting the newest entries would not show",
            err=True,
        )
    else:
        click.echo(f"checkpoints match, the newest at entry {result.checkpoint_seq}", err=True)
    if result.ignored:
        click.echo(
            f"warning: {result.ignored} checkpoints on {CHECKPOINT_TOPIC} are not signed with "
            "the audit key and were ignored",
            err=True,
        )
    if result.unkeyed:
        click.echo(
            f"warning: the first {result.unkeyed} entries predate the audit key; only the "
            "keyed entries that link to them protect them",
            err=True,
        )


def _deployment(config_path: Path | None, store_url: str | None) -> Deployment | None:
    """The deployment file in use: None when only --store was given."""
    if store_url is not None and config_path is None:
        return None
    from hub.config import default_config_path, load_config  # noqa: PLC0415 - only when needed

    return load_config(config_path or default_config_path())


async def _kafka_checkpoints(deployment: Deployment, notes: list[str]) -> list[Checkpoint]:
    """The checkpoints on the deployment's default cluster ([] and a note if unreachable)."""
    from hub.connections import (  # noqa: PLC0415 - only when needed
        Connections,
        EmbeddedEndpoints,
        discover_running_hub,
        hub_url,
    )

    try:
        embedded = EmbeddedEndpoints(None, None)
        if deployment.kafka is None and deployment.uses_embedded_broker:
            # The embedded broker lives (and keeps its topics) only while the hub runs.
            embedded = await discover_running_hub(hub_url(deployment))
        connections = Connections(deployment, embedded)
        reader = connections.backend.reader(connections.cluster_for(None), CHECKPOINT_TOPIC)
        try:
            return await read_checkpoints(reader)
        finally:
            await reader.close()
    except TsunaguError as exc:
        notes.append(f"could not read {CHECKPOINT_TOPIC}: {exc}")
        return []


@audit.command("tail")
@click.option("-n", "count", default=20, show_default=True, help="how many entries")
@_store_options
def tail_command(count: int, config_path: Path | None, store_url: str | None) -> None:
    """Show the newest entries, oldest first."""
    entries = _run("audit tail", config_path, store_url, lambda e: AuditLog(e).tail(count))
    for entry in entries:
        amount = "" if entry.amount is None else f" records={entry.amount}"
        size = "" if entry.size_bytes is None else f" bytes={entry.size_bytes}"
        client = f" from {entry.client}" if entry.client else ""
        detail = f" ({entry.detail})" if entry.detail else ""
        click.echo(
            f"{entry.seq:>8} {_time(entry.at_ms)} {entry.key_id} {entry.action} {entry.topic} "
            f"{entry.outcome}{amount}{size}{client}{detail}"
        )
