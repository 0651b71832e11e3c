"""Loading and validating topics.yaml: every problem found, each with its file, line and key.

Syntax errors, unknown or duplicate keys, bad values, inline secrets and dangling references
are all collected in one pass and raised together as a ConfigError.
"""

from __future__ import annotations

import types
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hub.config.checks import Declared, Finding, check_deployment
from hub.config.model import (
    Area,
    Bridge,
    Deployment,
    Feed,
    HubSettings,
    KafkaCluster,
    RegistryConnection,
    Topic,
)
from hub.config.secrets import SECRETS_MESSAGE, is_secret_key
from hub.config.yaml_source import (
    MAX_BYTES,
    KeyPath,
    YamlDocument,
    format_path,
    read_yaml,
    too_large_message,
)
from hub.errors import ConfigError, Problem
from hub.schemas.catalogue import SchemaCatalogue, packaged_data_dir

__all__ = ["default_config_path", "load_config", "validate_file"]

_SINGLE_SECTIONS: dict[str, type[BaseModel]] = {
    "hub": HubSettings,
    "kafka": KafkaCluster,
    "registry": RegistryConnection,
}
_NAMED_SECTIONS: dict[str, type[BaseModel]] = {
    "areas": Area,
    "topics": Topic,
    "feeds": Feed,
    "bridges": Bridge,
}


def default_config_path() -> Path:
    """./topics.yaml when it exists, else the demo deployment packaged in the wheel."""
    local = Path.cwd() / "topics.yaml"
    if local.is_file():
        return local
    return packaged_data_dir() / "topics.yaml"


def load_config(path: Path, catalogue: SchemaCatalogue | None = None) -> Deployment:
    """Read and validate the deployment file at `path`.

    With a catalogue, topics' schemas and key fields are checked against it; without one
    those checks are skipped. Environment variables named for secrets are not read.
    Raises ConfigError listing every problem. This reads files: from async code call it
    through asyncio.to_thread.
    """
    deployment, problems = _load(path, catalogue, catalogue_complete=True)
    if problems or deployment is None:
        raise ConfigError(problems)
    return deployment


def validate_file(path: Path, schema_dir: Path) -> list[Problem]:
    """Every problem of the schema directory and of the deployment file; [] when valid."""
    catalogue, problems = SchemaCatalogue.load_partial(schema_dir)
    _, config_problems = _load(path, catalogue, catalogue_complete=not problems)
    return problems + config_problems


def _load(
    path: Path, catalogue: SchemaCatalogue | None, *, catalogue_complete: bool
) -> tuple[Deployment | None, list[Problem]]:
    file = str(path)
    try:
        with path.open("rb") as stream:
            # Never more than the limit (plus one byte, to tell): a huge file is refused
            # without reading it into memory.
            data = stream.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            line = data.count(b"\n", 0, MAX_BYTES) + 1
            return None, [Problem(file, line, "", too_large_message())]
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        return None, [Problem(file, line, "", f"not UTF-8 text: {exc.reason}")]
    except FileNotFoundError:
        return None, [Problem(file, None, "", "file not found")]
    except OSError as exc:
        return None, [Problem(file, None, "", f"cannot read: {exc.strerror}")]

    document = read_yaml(text, file)
    problems = list(document.problems)
    raw = document.data
    if not isinstance(raw, dict):
        if raw is None and not problems:
            problems.append(Problem(file, None, "", "the file is empty"))
        elif raw is not None:
            problems.append(
                Problem(file, 1, "", f"the top level must be a mapping, not {_kind(raw)}")
            )
        return None, problems

    findings, silenced = _find_inline_secrets(raw)
    context = {"base_dir": path.parent}
    deployment: Deployment | None
    try:
        deployment = Deployment.model_validate(raw, context=context)
    except ValidationError as exc:
        deployment = None
        for error in exc.errors():
            finding = _describe(error)
            if not any(finding.path[: len(s)] == s for s in silenced):
                findings.append(finding)
    if deployment is None:
        partial, declared = _salvage(raw, context)
    else:
        partial = deployment
        declared = Declared(areas=list(deployment.areas), topics=list(deployment.topics))
    findings += check_deployment(
        partial, declared, catalogue, catalogue_complete=catalogue_complete
    )
    located = [_locate(file, document, f) for f in findings]
    # A line rewritten to get past a syntax error is already reported; what its rewrite
    # does to the data (a null value, an unknown key) would only repeat that.
    problems += [p for p in located if p.line not in document.recovered]
    problems.sort(key=lambda p: p.line or 0)
    if catalogue is not None:
        problems += _mapping_problems(partial, catalogue)
    return (deployment if not problems else None), problems


def _mapping_problems(deployment: Deployment, catalogue: SchemaCatalogue) -> list[Problem]:
    """Each bridge's mapping type-checked against its two topics' schemas; problems are
    located in the mapping file (file, line, field)."""
    from hub.mapping import check_mapping, load_mapping  # noqa: PLC0415 - imports hub.config

    problems: list[Problem] = []
    for name, bridge in deployment.bridges.items():
        source = deployment.topics.get(bridge.source)
        target = deployment.topics.get(bridge.target)
        if not bridge.mapping.is_file() or source is None or target is None:
            continue  # already reported against topics.yaml
        try:
            spec = load_mapping(bridge.mapping)
        except ConfigError as exc:
            problems += exc.problems
            continue
        for end, topic_name, named in (
            ("source", bridge.source, spec.source),
            ("target", bridge.target, spec.target),
        ):
            holds = deployment.topics[topic_name].schema_name
            if named != holds:
                problems.append(
                    spec.problem(
                        (end,),
                        f"the mapping is for {named}, but bridge {name}'s {end} topic "
                        f"{topic_name} holds {holds}",
                    )
                )
        if source.schema_name in catalogue and target.schema_name in catalogue:
            problems += check_mapping(
                spec, catalogue.get(source.schema_name).raw, catalogue.get(target.schema_name).raw
            )
    return problems


def _locate(file: str, document: YamlDocument, finding: Finding) -> Problem:
    return Problem(file, document.line_of(finding.path), format_path(finding.path), finding.message)


# --- a partial model, so cross-references are checked even when some parts are invalid ---


def _salvage(raw: dict[Any, Any], context: dict[str, Any]) -> tuple[Deployment, Declared]:
    invalid: set[KeyPath] = set()
    values: dict[str, Any] = {}
    for section, model in _SINGLE_SECTIONS.items():
        if raw.get(section) is not None:
            try:
                values[section] = model.model_validate(raw[section], context=context)
            except ValidationError:
                invalid.add((section,))
    names: dict[str, list[str]] = {}
    for section, model in _NAMED_SECTIONS.items():
        entries = raw.get(section)
        valid: dict[str, Any] = {}
        names[section] = []
        if isinstance(entries, dict):
            for name, entry in entries.items():
                names[section].append(str(name))
                try:
                    valid[str(name)] = model.model_validate(entry, context=context)
                except ValidationError:
                    invalid.add((section, name))
        values[section] = valid
    # model_construct skips validation: every part given here was validated on its own.
    partial = Deployment.model_construct(version=1, **values)
    return partial, Declared(areas=names["areas"], topics=names["topics"], invalid=invalid)


# --- inline secrets ---------------------------------------------------------------------


def _is_name_keyed(path: KeyPath) -> bool:
    """True for mappings whose keys are names the user chose (areas, topics, feed urls, ...)."""
    if len(path) == 1:
        return path[0] in _NAMED_SECTIONS
    return len(path) == 3 and path[0] == "feeds" and path[2] in {"urls", "topics"}


def _secret_hint(parent: KeyPath, key: str) -> str:
    if parent and parent[-1] == "client_config":
        if key.lower().replace(".", "_") == "sasl_password":
            return "use sasl_password_env"
        return "client_config cannot hold secrets"
    if len(parent) == 2 and parent[0] == "feeds":
        return "use auth: {header or query_param: ..., value_env: ...}"
    if parent == ("hub", "store"):
        return "use url_env"
    return f"use {key}_env"


def _find_inline_secrets(raw: object) -> tuple[list[Finding], list[KeyPath]]:
    findings: list[Finding] = []
    silenced: list[KeyPath] = []

    def walk(value: object, path: KeyPath) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*path, i))
            return
        if not isinstance(value, dict):
            return
        parent = path[-1] if path and isinstance(path[-1], str) else None
        for key, item in value.items():
            child = (*path, key)
            if isinstance(key, str) and not _is_name_keyed(path) and is_secret_key(key, parent):
                findings.append(Finding(child, f"{SECRETS_MESSAGE}: {_secret_hint(path, key)}"))
                # The same mistake also reads as an unknown key and a missing <key>_env.
                silenced.extend([child, (*path, f"{key}_env")])
            else:
                walk(item, child)

    walk(raw, ())
    return findings, silenced


# --- pydantic errors in words -----------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _kind_or_value(value: object) -> str:
    # A scalar is worth quoting ("got 'many'", "got 3.5"); a mapping or list is not.
    if value is None or isinstance(value, bool | dict | list):
        return _kind(value)
    return _show(value)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: ErrorDetails) -> Finding:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
    if kind == "extra_forbidden":
        return Finding(loc, _unknown_key(loc))
    bounds = {
        "greater_than_equal": ("ge", ">="),
        "greater_than": ("gt", ">"),
        "less_than_equal": ("le", "<="),
        "less_than": ("lt", "<"),
    }
    if kind in bounds:
        name, op = bounds[kind]
        return Finding(loc, f"must be {op} {ctx.get(name)} (got {_show(value)})")
    messages = {
        "missing": "required key is missing",
        "literal_error": f"must be {ctx.get('expected')} (got {_show(value)})",
        "int_type": f"must be a whole number (got {_kind_or_value(value)})",
        "int_parsing": f"must be a whole number (got {_show(value)})",
        "int_from_float": f"must be a whole number (got {_show(value)})",
        "bool_type": f"must be true or false (got {_kind(value)})",
        "bool_parsing": f"must be true or false (got {_show(value)})",
        "string_type": f"must be a string (got {_kind(value)})",
        "string_too_short": "must not be empty",
        "dict_type": f"must be a mapping (got {_kind(value)})",
        "model_type": f"must be a mapping (got {_kind(value)})",
        "model_attributes_type": f"must be a mapping (got {_kind(value)})",
        "path_type": f"must be a file path (got {_kind(value)})",
    }
    if kind in {"value_error", "assertion_error"} and "error" in ctx:
        return Finding(loc, str(ctx["error"]))
    return Finding(loc, messages.get(kind, error["msg"]))


def _unknown_key(loc: KeyPath) -> str:
    key = str(loc[-1])
    known = _known_keys(loc[:-1])
    close = get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    if known:
        return f"unknown key {key!r} (expected one of: {', '.join(known)})"
    return f"unknown key {key!r}"


def _known_keys(loc: KeyPath) -> list[str]:
    """The keys allowed in the mapping at `loc`, found by walking the model's annotations."""
    current: Any = Deployment
    i = 0
    while i < len(loc):
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == loc[i]), None)
        if field is None:
            return []
        current = _unwrap(field.annotation)
        i += 1
        if get_origin(current) is dict:
            current = _unwrap(get_args(current)[1])
            i += 1  # the user's name for the entry
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            annotation = options[0]
        else:
            return annotation
