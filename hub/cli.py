"""The ``tsunagu`` command line."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypeVar

import click
import orjson

from hub.config import default_config_path, validate_file
from hub.errors import ConfigError, TsunaguError
from hub.gc_policy import tune_for_throughput
from hub.schemas.catalogue import default_schema_dir

if TYPE_CHECKING:
    from hub.config import Deployment
    from hub.connections import Connections
    from hub.schemas.catalogue import SchemaCatalogue

T = TypeVar("T")


class _LazyGroup(click.Group):
    """Commands whose modules are imported only when they run: the key and audit commands
    pull in the access store (SQLAlchemy, hashing), which costs `bridge` and `ingest` a
    start-up they would pay in every process (click's documented lazy-loading pattern)."""

    _lazy: ClassVar[dict[str, str]] = {
        "keys": "hub.access.cli:keys",
        "audit": "hub.access.cli:audit",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self._lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, name = target.split(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(cls=_LazyGroup)
@click.version_option(package_name="tsunagu")
def main() -> None:
    """Tsunagu: a thin data-linkage hub for smart cities."""
    # Every command is a process of its own, most of them long-running hub parts.
    tune_for_throughput()


_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="deployment file (default: ./topics.yaml, else the packaged demo)",
)
_schemas_option = click.option(
    "--schemas",
    "schema_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="directory of .avsc files (default: ./schemas/avro, else the packaged copy)",
)


@main.command()
@_config_option
@_schemas_option
def validate(config_path: Path | None, schema_dir: Path | None) -> None:
    """Check a deployment file; every problem is printed with file, line and key path."""
    path = config_path or default_config_path()
    problems = validate_file(path, schema_dir or default_schema_dir())
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{path}: {len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"{path}: valid")


_hub_option = click.option(
    "--hub",
    "hub_address",
    default=None,
    metavar="URL",
    help="a running hub, for its embedded broker and registry (default: the config's http)",
)


_key_option = click.option(
    "--key",
    "api_key",
    default=None,
    envvar="TSUNAGU_API_KEY",
    metavar="KEY",
    help="API key with a registry:write grant, for writing a running hub's embedded registry "
    "(default: $TSUNAGU_API_KEY); external registries use their own credentials",
)


def _registry_auth(api_key: str | None) -> tuple[str, str] | None:
    """A hub API key as the Basic credentials its embedded registry takes (id, secret)."""
    if not api_key:
        return None
    key_id, dot, secret = api_key.strip().partition(".")
    if not dot:
        raise click.BadParameter("not a tsunagu API key (tk_....secret)", param_hint="--key")
    return key_id, secret


def _fail(command: str, exc: TsunaguError) -> None:
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            click.echo(str(problem), err=True)
    else:
        click.echo(f"tsunagu {command}: {exc}", err=True)
    sys.exit(1)


def _with_connections(
    command: str,
    config_path: Path | None,
    schema_dir: Path | None,
    hub_address: str | None,
    work: Callable[[Deployment, SchemaCatalogue, Connections], Awaitable[T]],
    *,
    needs_kafka: bool,
    api_key: str | None = None,
) -> T:
    """Load the deployment and schemas, connect (finding a running hub's embedded services
    when the deployment uses them), run ``work``, close everything; exit 1 on errors."""
    from hub.config import load_config  # noqa: PLC0415 - keeps `validate` light
    from hub.connections import (  # noqa: PLC0415
        Connections,
        EmbeddedEndpoints,
        discover_running_hub,
        hub_url,
    )
    from hub.schemas.catalogue import SchemaCatalogue  # noqa: PLC0415

    async def run() -> T:
        catalogue = SchemaCatalogue.load(schema_dir or default_schema_dir())
        deployment = load_config(config_path or default_config_path(), catalogue)
        needs_hub = any(deployment.registry_for(a) is None for a in deployment.areas) or (
            needs_kafka and deployment.uses_embedded_broker
        )
        embedded = EmbeddedEndpoints(None, None)
        if needs_hub:
            embedded = await discover_running_hub(
                hub_address or hub_url(deployment), registry_auth=_registry_auth(api_key)
            )
        connections = Connections(deployment, embedded)
        try:
            return await work(deployment, catalogue, connections)
        finally:
            await connections.close()

    try:
        return asyncio.run(run())
    except TsunaguError as exc:
        _fail(command, exc)
        raise  # unreachable: _fail exits


@main.command("apply")
@_config_option
@_schemas_option
@_hub_option
@_key_option
def apply_command(
    config_path: Path | None, schema_dir: Path | None, hub_address: str | None, api_key: str | None
) -> None:
    """Create the deployment's topics and register their schemas (refusing incompatible ones)."""
    from hub.apply import apply  # noqa: PLC0415

    report = _with_connections(
        "apply",
        config_path,
        schema_dir,
        hub_address,
        lambda d, c, conn: apply(d, c, conn.admin_for, conn.registry_for),
        needs_kafka=True,
        api_key=api_key,
    )
    for topic in report.created_topics:
        click.echo(f"created  {topic}")
    for topic in report.existing_topics:
        click.echo(f"exists   {topic}")
    for subject, schema_id in report.registered.items():
        click.echo(f"schema   {subject} -> id {schema_id}")


@main.group()
def schemas() -> None:
    """The canonical Avro schemas and the registry."""


@schemas.command("check")
@_config_option
@_schemas_option
@_hub_option
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per subject")
def schemas_check(
    config_path: Path | None, schema_dir: Path | None, hub_address: str | None, as_json: bool
) -> None:
    """Report whether schemas/avro/ is compatible with what each registry holds."""
    from hub.schemas.check import check_schemas  # noqa: PLC0415

    results = _with_connections(
        "schemas check",
        config_path,
        schema_dir,
        hub_address,
        lambda d, c, conn: check_schemas(d, c, conn.registry_for),
        needs_kafka=False,
    )
    for result in results:
        if as_json:
            click.echo(
                orjson.dumps(
                    {
                        "topic": result.topic,
                        "subject": result.subject,
                        "schema": result.schema,
                        "registry": result.registry,
                        "status": result.status,
                        "level": result.level,
                        "reasons": list(result.reasons),
                    }
                )
            )
        else:
            click.echo(result.describe())
    bad = [r for r in results if not r.ok]
    if bad:
        click.echo(f"{len(bad)} of {len(results)} subject(s) incompatible", err=True)
        click.echo("repair with: tsunagu schemas repair SUBJECT --key ADMIN_KEY", err=True)
        sys.exit(1)


@schemas.command("repair")
@click.argument("subjects", nargs=-1, metavar="[SUBJECT]...")
@_config_option
@_schemas_option
@_hub_option
@_key_option
def schemas_repair(
    subjects: tuple[str, ...],
    config_path: Path | None,
    schema_dir: Path | None,
    hub_address: str | None,
    api_key: str | None,
) -> None:
    """Make incompatible subjects (all, or those named, by subject or topic) hold their
    topic's schema again: the versions it is incompatible with are soft-deleted (still
    readable by id) and the schema is registered. Needs a registry:write key."""
    from hub.schemas.check import repair_subjects  # noqa: PLC0415

    repairs, untouched = _with_connections(
        "schemas repair",
        config_path,
        schema_dir,
        hub_address,
        lambda d, c, conn: repair_subjects(d, c, conn.registry_for, subjects),
        needs_kafka=False,
        api_key=api_key,
    )
    for repair in repairs:
        click.echo(repair.describe())
    if subjects:
        for check in untouched:
            click.echo(f"{check.subject}: nothing to repair ({check.describe()})")
    if not repairs:
        click.echo("nothing to repair")


@main.command()
@_config_option
@_schemas_option
@_hub_option
@_key_option
@click.option("--feed", "feed_id", required=True, help="the feed to run (an id under feeds:)")
@click.option("--once", is_flag=True, help="run one cycle, print a JSON summary, exit")
@click.option("--progress/--no-progress", default=None, help="progress bar (default: on a TTY)")
def ingest(
    *,
    config_path: Path | None,
    schema_dir: Path | None,
    hub_address: str | None,
    api_key: str | None,
    feed_id: str,
    once: bool,
    progress: bool | None,
) -> None:
    """Run one feed: fetch, normalise, produce. With --once, one cycle and a summary."""
    from hub.ingest.command import run_ingest  # noqa: PLC0415

    show_progress = sys.stderr.isatty() if progress is None else progress
    summary = _with_connections(
        "ingest",
        config_path,
        schema_dir,
        hub_address,
        lambda d, c, conn: run_ingest(d, c, conn, feed_id, once=once, progress=show_progress),
        needs_kafka=True,
        api_key=api_key,
    )
    if summary is not None:
        click.echo(orjson.dumps(summary.as_json()))
        if summary.outcome == "error":
            sys.exit(1)


@main.command()
@_config_option
@_schemas_option
@_hub_option
@_key_option
@click.option("--name", "bridge_name", required=True, help="the bridge to run (under bridges:)")
def bridge(
    config_path: Path | None,
    schema_dir: Path | None,
    hub_address: str | None,
    api_key: str | None,
    bridge_name: str,
) -> None:
    """Run one bridge; start more processes with the same name to share its partitions."""
    from hub.bridge.command import run_bridge  # noqa: PLC0415

    # A long-running process: operators follow its rebalances and retries in the log.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    _with_connections(
        "bridge",
        config_path,
        schema_dir,
        hub_address,
        lambda d, c, conn: run_bridge(d, c, conn, bridge_name),
        needs_kafka=True,
        api_key=api_key,
    )


@main.command()
@_config_option
@_schemas_option
def up(config_path: Path | None, schema_dir: Path | None) -> None:
    """Run the hub: embedded broker if no cluster is configured, registry, HTTP, topics."""
    from hub.up import UpOptions, run_up  # noqa: PLC0415 - keeps `validate` light

    options = UpOptions(config_path or default_config_path(), schema_dir or default_schema_dir())
    try:
        asyncio.run(run_up(options))
    except TsunaguError as exc:
        _fail("up", exc)
