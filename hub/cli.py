"""The ``tsunagu`` command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from hub.config import default_config_path, validate_file
from hub.errors import ConfigError, TsunaguError
from hub.schemas.catalogue import default_schema_dir


@click.group()
@click.version_option(package_name="tsunagu")
def main() -> None:
    """Tsunagu: a thin data-linkage hub for smart cities."""


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


@main.command()
@_config_option
@_schemas_option
def up(config_path: Path | None, schema_dir: Path | None) -> None:
    """Run the hub: embedded broker if no cluster is configured, registry, HTTP, topics."""
    from hub.up import UpOptions, run_up  # noqa: PLC0415 - keeps `validate` light

    options = UpOptions(config_path or default_config_path(), schema_dir or default_schema_dir())
    try:
        asyncio.run(run_up(options))
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except TsunaguError as exc:
        click.echo(f"tsunagu up: {exc}", err=True)
        sys.exit(1)
