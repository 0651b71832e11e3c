"""Reading a YAML file so that every problem can be told with its line.

Besides the data this gives the line of every key (from the composed node tree), reports
keys that appear twice in one mapping (PyYAML silently keeps the last), and recovers from
syntax errors by emptying the offending line (keeping its key when it has one) and parsing
again, so that one run reports the syntax error *and* the problems in the rest of the file.

A hostile file is refused while it is composed, before anything is built from it: more
than MAX_BYTES of text, nesting deeper than MAX_DEPTH, more than MAX_NODES nodes once
aliases are expanded (a "billion laughs" alias bomb is a few lines that expand to billions),
or an alias inside the node it names (a cycle). The refusal names the line that crossed
the limit.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hub.errors import Problem

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "KeyPath",
    "YamlDocument",
    "format_path",
    "read_yaml",
    "too_large_message",
]

#: A position in the document: mapping keys and sequence indexes from the root.
KeyPath = tuple[Hashable, ...]

#: Syntax errors tolerated before giving up on the rest of the file.
MAX_RECOVERIES = 10
#: The largest file read (bytes of UTF-8; characters for text given directly). A
#: deployment of 5,000 topics is about 700 KB; a larger file is a mistake or an attack.
MAX_BYTES = 1024 * 1024
#: Nodes (scalars, lists, mappings) once every alias is expanded: about what MAX_BYTES
#: of plain YAML holds, so aliases may share settings but never multiply the document.
MAX_NODES = 200_000
#: Nesting of lists and mappings; composing is recursive, so this also keeps far from
#: Python's recursion limit (a deployment file nests about 6 deep).
MAX_DEPTH = 64
#: Characters parsed in all, recoveries included: a large file gets fewer second tries,
#: so a megabyte of syntax errors costs two parses, not twenty.
PARSE_BUDGET = 2 * MAX_BYTES
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEY_LINE = re.compile(r"(\s*(?:-\s+)?[A-Za-z0-9_][^:#'\"{}\[\],]*?):(?:\s|$)")


@dataclass
class YamlDocument:
    """The parsed data, the 1-based line of every key path, and the problems found."""

    data: object
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: 1-based numbers of the lines rewritten to get past syntax errors.
    recovered: list[int] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def format_path(path: KeyPath) -> str:
    """A key path as a reader writes it: topics["kaga.mobility.stops.v1"].partitions."""
    out = ""
    for part in path:
        if isinstance(part, str) and part and not any(c in part for c in ".[]\"' \t"):
            out += f".{part}" if out else part
        elif isinstance(part, str):
            quoted = part.replace("\\", "\\\\").replace('"', '\\"')
            out += f'["{quoted}"]'
        else:
            out += f"[{part!r}]"
    return out


def read_yaml(text: str, file: str) -> YamlDocument:
    """Parse `text` (named `file` in problems), recovering from up to MAX_RECOVERIES
    syntax errors; `data` is None when the file is empty or could not be recovered."""
    if len(text) > MAX_BYTES:
        where = text.count("\n", 0, MAX_BYTES) + 1
        return YamlDocument(None, {}, [Problem(file, where, "", too_large_message())])
    lines = text.splitlines(keepends=True)
    problems: list[Problem] = []
    recovered: list[int] = []
    attempts = max(1, min(2 * MAX_RECOVERIES, PARSE_BUDGET // max(1, len(text))))
    for _ in range(attempts):
        try:
            return _compose(lines, file, problems, recovered)
        except _Refused as exc:
            # Not a typo to get past: the rest of the file is not worth reading.
            problems.append(Problem(file, exc.line + 1, "", exc.message))
            break
        except _Unparsable as exc:
            line = exc.line
            if line is not None and line + 1 in recovered:
                # Keeping the key was not enough: drop the whole line (already reported).
                lines[line] = "\n"
                continue
            problems.append(Problem(file, None if line is None else line + 1, "", exc.message))
            if line is None or len(recovered) >= MAX_RECOVERIES:
                break
            lines[line] = _without_value(lines[line])
            recovered.append(line + 1)
    else:
        if len(recovered) < MAX_RECOVERIES:
            # Out of parse budget, not of patience: say the list may go on.
            message = "the file is too large to look past more syntax errors: fix these first"
            problems.append(Problem(file, None, "", message))
    return YamlDocument(None, {}, problems, recovered)


class _Unparsable(Exception):
    """A syntax error, with the 0-based line to blame (None: nothing to blank)."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


def too_large_message() -> str:
    """Why a file over MAX_BYTES is refused (the problem's line is where it passes the limit)."""
    return f"the file passes {MAX_BYTES // 1024} KiB on this line, more than a deployment may be"


class _Refused(Exception):
    """The document is over a limit (0-based line where it went over): nothing is built."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


class _Loader(yaml.SafeLoader):
    """A SafeLoader that remembers the last scalar it read, to explain unclosed quotes, and
    counts what it composes, to refuse a document over MAX_NODES or MAX_DEPTH."""

    last_scalar: ScalarNode | None = None

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes: int = 0
        self._depth: int = 0
        # Expanded size of each anchored node, by identity (the anchors keep them alive).
        self._sizes: dict[int, int] = {}

    def compose_scalar_node(self, anchor: dict[Any, Node]) -> ScalarNode:
        node = super().compose_scalar_node(anchor)
        self.last_scalar = node
        return node

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:
                size = self._sizes.get(id(target))
                if size is None:
                    message = f"alias *{event.anchor} is inside the node it names (a cycle)"
                    raise _Refused(line, message)
                self._count(size, line)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(line, f"nested more than {MAX_DEPTH} levels deep")
        before = self._nodes
        self._count(1, line)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if event.anchor is not None:
            self._sizes[id(node)] = self._nodes - before
        return node

    def _count(self, nodes: int, line: int) -> None:
        # Aliases are counted at their expanded size: that is what every later step (the
        # key index, the model, the checks) walks, though PyYAML itself shares the objects.
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise _Refused(
                line,
                f"the document grows past {MAX_NODES:,} values here once aliases are "
                "expanded (an alias bomb, or a file too large for a deployment)",
            )

    def construct_yaml_int(self, node: ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError as exc:
            # Python refuses to read integers of thousands of digits (a CPU guard); say
            # where, like any other syntax problem, rather than fail with a traceback.
            digits = sum(c.isdigit() for c in str(node.value))
            message = f"a number of {digits} digits is too long to read"
            raise ConstructorError(None, None, message, node.start_mark) from exc


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _without_value(line: str) -> str:
    """The line with its value dropped but its key kept, or blank if it has no plain key.

    Line numbers never change. Keeping the key keeps the enclosing mapping's shape, so the
    rest of the file is checked as written rather than as a cascade of missing keys.
    """
    match = _KEY_LINE.match(line)
    return f"{match.group(1)}: ~\n" if match else "\n"


def _diagnose(
    exc: yaml.MarkedYAMLError, last_scalar: ScalarNode | None, lines: list[str]
) -> _Unparsable:
    # A quote left open swallows the following lines up to the next quote character and
    # the parser only complains there; the line that opened the quote is the one to fix.
    if (
        last_scalar is not None
        and last_scalar.style in {'"', "'"}
        and exc.problem_mark is not None
        and last_scalar.start_mark.line < last_scalar.end_mark.line == exc.problem_mark.line
    ):
        end = last_scalar.end_mark.line + 1
        return _Unparsable(
            last_scalar.start_mark.line,
            f"YAML syntax error: quote not closed on this line (it runs on to line {end})",
        )
    detail = exc.problem or exc.context or "unparseable"
    if "'\\t'" in detail:
        detail += " (YAML indents with spaces, never tabs)"
    return _Unparsable(_blame_line(exc, lines), f"YAML syntax error: {detail}")


def _blame_line(exc: yaml.MarkedYAMLError, lines: list[str]) -> int | None:
    """The 0-based line to report and blank, or None when blanking cannot help."""
    problem = exc.problem_mark.line if exc.problem_mark is not None else None
    context = exc.context_mark.line if exc.context_mark is not None else None
    # An unclosed quote or flow collection, or a key missing its colon, is noticed
    # lines later (often at the end of the file); where it started is what to fix.
    starts_elsewhere = exc.context is not None and exc.context.startswith(
        ("while scanning", "while parsing a flow")
    )
    order = [context, problem] if starts_elsewhere else [problem, context]
    for line in order:
        if line is not None and line < len(lines) and lines[line].strip():
            return line
    return None


def _compose(
    lines: list[str], file: str, problems: list[Problem], recovered: list[int]
) -> YamlDocument:
    loader = _Loader("".join(lines))
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None, {}, problems, recovered)
        data = loader.construct_document(node)
        indexer = _Indexer(loader, file, {(): node.start_mark.line + 1}, list(problems))
        indexer.walk(node, ())
        return YamlDocument(data, indexer.index, indexer.problems, recovered)
    except yaml.MarkedYAMLError as exc:
        raise _diagnose(exc, loader.last_scalar, lines) from exc
    finally:
        loader.dispose()


@dataclass
class _Indexer:
    """Walks a composed node tree, noting each key's line and every duplicate key."""

    loader: yaml.SafeLoader
    file: str
    index: dict[KeyPath, int]
    problems: list[Problem]

    def walk(self, node: Node, path: KeyPath) -> None:
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self.index.setdefault((*path, i), item.start_mark.line + 1)
                self.walk(item, (*path, i))
        elif isinstance(node, MappingNode):
            self._walk_mapping(node, path)

    def _walk_mapping(self, node: MappingNode, path: KeyPath) -> None:
        first_seen: dict[Hashable, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = self.loader.construct_object(key_node)
            if not isinstance(key, Hashable):
                continue
            line = key_node.start_mark.line + 1
            child = (*path, key)
            if key in first_seen:
                message = f"duplicate key {key!r}: already given on line {first_seen[key]}"
                self.problems.append(Problem(self.file, line, format_path(child), message))
            else:
                first_seen[key] = line
            # PyYAML keeps the last of duplicate keys, so later lines describe the data.
            self.index[child] = line
            self.walk(value_node, child)
