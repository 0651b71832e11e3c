"""Avro binary writers and readers compiled to Python source for one schema.

fastavro's generic Cython code dispatches on the schema at every value and picks union
branches by validating each; for the hub's records (flat, with many nullable fields and
enums) code written for the one schema is about three times faster. This module
generates that code for the schemas it fully understands and returns None for the rest
(recursive types, unions with two record or map branches, readers of logical types),
which then keep using fastavro. The output is byte for byte what fastavro writes
(tests compare the two on every canonical schema).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from fastavro.write import LOGICAL_WRITERS

__all__ = ["WRITE_ERRORS", "FieldError", "Reader", "Writer", "compile_reader", "compile_writer"]

#: Appends one value's Avro binary encoding to the buffer.
Writer = Callable[[bytearray, Any], None]
#: Reads one value from ``data`` at ``pos``; returns it and the position after it.
Reader = Callable[[bytes, int], tuple[Any, int]]

_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1
_MIN_LONG, _MAX_LONG = -(2**63), 2**63 - 1
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_NAMED = {"record", "error", "enum", "fixed"}


class Unsupported(Exception):
    """The schema uses something this compiler leaves to fastavro."""


class FieldError(ValueError):
    """A value that does not fit its field; ``path`` names the field (dotted into records)."""

    def __init__(self, path: str, reason: BaseException) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"field {path!r}: {type(reason).__name__}: {reason}")


#: What a writer (generated here, or fastavro's) raises for a value of the wrong type or range.
WRITE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError, struct.error)


def _write_long(append: Callable[[int], None], n: int) -> None:
    # Zig-zag, then 7 bits a byte, low first. Floats and None fail on the shifts.
    if -64 <= n < 64:
        append((n << 1) ^ (n >> 63))
        return
    if not _MIN_LONG <= n <= _MAX_LONG:
        raise OverflowError(f"{n} does not fit an Avro long")
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        append((n & 0x7F) | 0x80)
        n >>= 7
    append(n)


# Encoded timestamps, by value. A timestamp in milliseconds takes six bytes and a Python
# loop of six turns to encode, twice per record (observed_at, ingested_at); within a cycle
# ingested_at is one value and observed_at a few hundred, so a lookup replaces the loop.
# Cleared when full, so old cycles' values do not pile up.
_TIMESTAMPS: dict[int, bytes] = {}
_TIMESTAMPS_KEPT = 4096


def _timestamp(n: int) -> bytes:
    """``n``'s encoding as a long (an int, not a bool or float), remembered."""
    encoded = bytearray()
    _write_long(encoded.append, n)
    if len(_TIMESTAMPS) >= _TIMESTAMPS_KEPT:
        _TIMESTAMPS.clear()
    _TIMESTAMPS[n] = result = bytes(encoded)
    return result


def _write_int(append: Callable[[int], None], n: int) -> None:
    # fastavro writes any 64-bit value into an int field; other readers then fail on it.
    if not _MIN_INT <= n <= _MAX_INT:
        raise OverflowError(f"{n} does not fit an Avro int")
    _write_long(append, n)


def _read_long(data: bytes, pos: int) -> tuple[int, int]:
    b = data[pos]
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
    return (n >> 1) ^ -(n & 1), pos


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    length, pos = _read_long(data, pos)
    if length < 0:
        raise ValueError(f"negative length {length}")
    return length, pos


def _zigzag_byte(index: int) -> int:
    """The one-byte encoding of a union branch or enum index below 64."""
    return index << 1


class _Names:
    """Named types seen so far, by full name, and the records being expanded (recursion)."""

    def __init__(self) -> None:
        self.types: dict[str, Any] = {}
        self.open: set[str] = set()

    def define(self, schema: Mapping[str, Any], namespace: str) -> tuple[str, str]:
        name = str(schema["name"])
        if "." in name:
            full = name
        else:
            space = str(schema.get("namespace", namespace) or "")
            full = f"{space}.{name}" if space else name
        self.types[full] = schema
        return full, full.rpartition(".")[0]

    def resolve(self, name: str, namespace: str) -> Any:
        for candidate in (f"{namespace}.{name}" if namespace else name, name):
            if candidate in self.types:
                return self.types[candidate]
        raise Unsupported(f"unknown named type {name}")


class _Source:
    """Lines of Python being generated, with fresh local names and bound constants."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self._count = 0

    def local(self) -> str:
        self._count += 1
        return f"v{self._count}"

    def constant(self, value: Any) -> str:
        self._count += 1
        name = f"k{self._count}"
        self.constants[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def function(self, header: str, name: str, extra: Mapping[str, Any]) -> Any:
        text = header + "\n" + "\n".join(self.lines) + "\n"
        namespace: dict[str, Any] = {**extra, **self.constants}
        # The text is generated from the schema; names and literals in it are our own locals
        # or repr()s of the schema's strings, so executing it runs nothing from outside.
        exec(compile(text, f"<avro {name}>", "exec"), namespace)  # noqa: S102
        return namespace[name]


def _type_of(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    kind = schema["type"]
    return kind if isinstance(kind, str) else _type_of(kind)


# --- writers ---------------------------------------------------------------------------


class _WriterCompiler:
    def __init__(self) -> None:
        self.src = _Source()
        self.names = _Names()

    def write(self, schema: Any, value: str, indent: int, namespace: str) -> None:
        emit = self.src.emit
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            schema = self.names.resolve(schema, namespace)
        if isinstance(schema, list):
            self._union(schema, value, indent, namespace)
            return
        if isinstance(schema, dict) and not isinstance(schema["type"], str):
            self.write(schema["type"], value, indent, namespace)
            return
        kind = _type_of(schema)
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        if logical is not None:
            prepare = LOGICAL_WRITERS.get(f"{kind}-{logical}")
            if prepare is not None:
                fn, raw = self.src.constant(prepare), self.src.constant(schema)
                if kind == "long" and "timestamp" in logical:
                    # Integers are what the hub passes; datetimes get fastavro's conversion.
                    emit(indent, f"if {value}.__class__ is int:")
                    emit(indent + 1, f"out += _TIMESTAMPS.get({value}) or _timestamp({value})")
                    emit(indent, "else:")
                    emit(indent + 1, f"{value} = {fn}({value}, {raw})")
                    self._primitive(kind, value, indent + 1)
                    return
                if kind in ("int", "long"):
                    emit(indent, f"if {value}.__class__ is not int: {value} = {fn}({value}, {raw})")
                else:
                    emit(indent, f"{value} = {fn}({value}, {raw})")
        if self._primitive(kind, value, indent):
            return
        if kind == "fixed":
            self.names.define(schema, namespace)
            size = int(schema["size"])
            emit(
                indent, f"if not isinstance({value}, (bytes, bytearray)) or len({value}) != {size}:"
            )
            emit(indent + 1, f"raise ValueError('expected {size} bytes')")
            emit(indent, f"out += {value}")
        elif kind == "enum":
            self.names.define(schema, namespace)
            table = self.src.constant(self._enum_table(schema["symbols"]))
            emit(indent, f"out += {table}[{value}]")
        elif kind == "array":
            self._array(schema["items"], value, indent, namespace)
        elif kind == "map":
            self._map(schema["values"], value, indent, namespace)
        elif kind in ("record", "error"):
            self._record(schema, value, indent, namespace)
        else:
            raise Unsupported(f"type {kind}")

    def _primitive(self, kind: str, value: str, indent: int) -> bool:
        """Emit the writer of a primitive type; False for any other type."""
        emit = self.src.emit
        if kind == "null":
            emit(indent, f"if {value} is not None: raise TypeError('expected null')")
        elif kind == "boolean":
            emit(indent, f"if {value} is None: raise TypeError('expected a boolean, got None')")
            emit(indent, f"append(1 if {value} else 0)")
        elif kind in ("int", "long"):
            # Small numbers (counts, sequences, codes) are one byte: no call for them.
            emit(indent, f"if -64 <= {value} < 64: append(({value} << 1) ^ ({value} >> 63))")
            emit(indent, f"else: _write_{kind}(append, {value})")
        elif kind == "float":
            emit(indent, f"out += _pack_f({value})")
        elif kind == "double":
            emit(indent, f"out += _pack_d({value})")
        elif kind == "string":
            encoded = self.src.local()
            emit(indent, f"{encoded} = {value}.encode()")
            size = self.src.local()
            # Most strings are shorter than 64 bytes: their length is one byte, no call.
            emit(indent, f"{size} = len({encoded})")
            emit(indent, f"if {size} < 64: append({size} << 1)")
            emit(indent, f"else: _write_long(append, {size})")
            emit(indent, f"out += {encoded}")
        elif kind == "bytes":
            emit(indent, f"if not isinstance({value}, (bytes, bytearray)):")
            emit(indent + 1, "raise TypeError('expected bytes')")
            emit(indent, f"_write_long(append, len({value})); out += {value}")
        else:
            return False
        return True

    @staticmethod
    def _enum_table(symbols: list[str]) -> dict[str, bytes]:
        table: dict[str, bytes] = {}
        for index, symbol in enumerate(symbols):
            encoded = bytearray()
            _write_long(encoded.append, index)
            table[symbol] = bytes(encoded)
        return table

    def _array(self, items: Any, value: str, indent: int, namespace: str) -> None:
        emit = self.src.emit
        count, item = self.src.local(), self.src.local()
        emit(indent, f"{count} = len({value})")  # None fails here, as it should
        emit(indent, f"if {count}:")
        emit(indent + 1, f"_write_long(append, {count})")
        emit(indent + 1, f"for {item} in {value}:")
        self.write(items, item, indent + 2, namespace)
        emit(indent, "append(0)")

    def _map(self, values: Any, value: str, indent: int, namespace: str) -> None:
        emit = self.src.emit
        count, key, item = self.src.local(), self.src.local(), self.src.local()
        emit(indent, f"{count} = len({value})")
        emit(indent, f"if {count}:")
        emit(indent + 1, f"_write_long(append, {count})")
        emit(indent + 1, f"for {key}, {item} in {value}.items():")
        self.write("string", key, indent + 2, namespace)
        self.write(values, item, indent + 2, namespace)
        emit(indent, "append(0)")

    def _record(self, schema: Mapping[str, Any], value: str, indent: int, namespace: str) -> None:
        full, inner = self.names.define(schema, namespace)
        if full in self.names.open:
            raise Unsupported(f"recursive record {full}")
        self.names.open.add(full)
        for field in schema["fields"]:
            local = self.src.local()
            name = repr(field["name"])
            if "default" in field:
                first = field["type"][0] if isinstance(field["type"], list) else field["type"]
                if _type_of(first) in ("bytes", "fixed"):
                    raise Unsupported("bytes default")  # JSON code points, not bytes
                default = self.src.constant(field["default"])
                self.src.emit(indent, f"{local} = {value}.get({name}, {default})")
            else:
                # A required field: a missing one fails here, as a KeyError naming it.
                self.src.emit(indent, f"{local} = {value}[{name}]")
            # Naming the field costs nothing until it fails (exceptions are zero-cost in 3.11).
            self.src.emit(indent, "try:")
            self.write(field["type"], local, indent + 1, inner)
            self.src.emit(indent, "except FieldError as exc:")
            self.src.emit(indent + 1, f"raise FieldError({name} + '.' + exc.path, exc.reason)")
            self.src.emit(indent, "except WRITE_ERRORS as exc:")
            self.src.emit(indent + 1, f"raise FieldError({name}, exc) from exc")
        self.names.open.discard(full)

    def _union(self, branches: list[Any], value: str, indent: int, namespace: str) -> None:
        emit = self.src.emit
        kinds = [
            _type_of(self.names.resolve(b, namespace))
            if isinstance(b, str) and b not in _PRIMITIVES
            else _type_of(b)
            for b in branches
        ]
        if sum(k in ("record", "error", "map") for k in kinds) > 1 or len(branches) > 63:
            raise Unsupported("union fastavro resolves by validating each branch")
        if len(branches) == 2 and "null" in kinds:
            # The common case: no branch test, the other branch's writer rejects bad values.
            null = kinds.index("null")
            emit(indent, f"if {value} is None: append({_zigzag_byte(null)})")
            emit(indent, "else:")
            if not self._after_branch(branches[1 - null], 1 - null, value, indent + 1, namespace):
                emit(indent + 1, f"append({_zigzag_byte(1 - null)})")
                self.write(branches[1 - null], value, indent + 1, namespace)
            return
        # fastavro writes the first branch the value is valid for; so do these tests.
        for index, (branch, kind) in enumerate(zip(branches, kinds, strict=True)):
            keyword = "if" if index == 0 else "elif"
            emit(indent, f"{keyword} {self._accepts(branch, kind, value, namespace)}:")
            emit(indent + 1, f"append({_zigzag_byte(index)})")
            self.write(branch, value, indent + 1, namespace)
        emit(indent, "else:")
        emit(indent + 1, f"raise ValueError(f'no branch of the union takes {{{value}!r}}')")

    def _after_branch(
        self, branch: Any, index: int, value: str, indent: int, namespace: str
    ) -> bool:
        """Emit the branch index and a string, float, double or enum value with one write
        where the two can be joined (False for other branches): most fields of the hub's
        records are such nullable values, and each write to the buffer is a call."""
        emit = self.src.emit
        if isinstance(branch, str) and branch not in _PRIMITIVES:
            branch = self.names.resolve(branch, namespace)
        if isinstance(branch, dict) and "logicalType" in branch:
            return False
        kind = _type_of(branch)
        mark = _zigzag_byte(index)
        if kind == "string":
            encoded, size = self.src.local(), self.src.local()
            # Mark and length of a string shorter than 64 bytes, by length.
            starts = self.src.constant([bytes((mark, n << 1)) for n in range(64)])
            emit(indent, f"{encoded} = {value}.encode()")
            emit(indent, f"{size} = len({encoded})")
            emit(indent, f"if {size} < 64: out += {starts}[{size}]")
            emit(indent, f"else: append({mark}); _write_long(append, {size})")
            emit(indent, f"out += {encoded}")
        elif kind in ("float", "double"):
            pack = self.src.constant(struct.Struct("<Bf" if kind == "float" else "<Bd").pack)
            emit(indent, f"out += {pack}({mark}, {value})")
        elif kind == "enum" and isinstance(branch, dict):
            self.names.define(branch, namespace)
            marked = {s: bytes((mark,)) + b for s, b in self._enum_table(branch["symbols"]).items()}
            emit(indent, f"out += {self.src.constant(marked)}[{value}]")
        else:
            return False
        return True

    def _accepts(self, branch: Any, kind: str, value: str, namespace: str) -> str:
        if kind == "null":
            return f"{value} is None"
        if kind == "boolean":
            return f"({value} is True or {value} is False)"
        if kind == "int":
            return f"({value}.__class__ is int and {_MIN_INT} <= {value} <= {_MAX_INT})"
        if kind == "long":
            return f"{value}.__class__ is int"
        if kind in ("float", "double"):
            return f"({value}.__class__ is float or {value}.__class__ is int)"
        if kind == "string":
            return f"isinstance({value}, str)"
        if kind in ("bytes", "fixed"):
            return f"isinstance({value}, (bytes, bytearray))"
        if kind == "enum":
            schema = branch if isinstance(branch, dict) else self.names.resolve(branch, namespace)
            symbols = self.src.constant(frozenset(schema["symbols"]))
            return f"(isinstance({value}, str) and {value} in {symbols})"
        if kind == "array":
            return f"isinstance({value}, (list, tuple))"
        return f"isinstance({value}, Mapping)"  # the one record or map branch


def compile_writer(schema: Any) -> Writer | None:
    """A writer of ``schema`` (JSON form, or fastavro's parsed form), or None when this
    compiler leaves the schema to fastavro."""
    compiler = _WriterCompiler()
    compiler.src.emit(1, "append = out.append")
    try:
        compiler.write(schema, "value", 1, "")
    except Unsupported:
        return None
    writer: Writer = compiler.src.function(
        "def write(out, value):",
        "write",
        {
            "_write_long": _write_long,
            "_write_int": _write_int,
            "_TIMESTAMPS": _TIMESTAMPS,
            "_timestamp": _timestamp,
            "_pack_f": struct.Struct("<f").pack,
            "_pack_d": struct.Struct("<d").pack,
            "Mapping": Mapping,
            "FieldError": FieldError,
            "WRITE_ERRORS": WRITE_ERRORS,
        },
    )
    return writer


# --- readers ---------------------------------------------------------------------------


class _ReaderCompiler:
    def __init__(self) -> None:
        self.src = _Source()
        self.names = _Names()

    def long(self, target: str, indent: int) -> None:
        emit = self.src.emit
        # One byte holds -64..63: most counts, lengths and small numbers.
        emit(indent, "b = data[pos]")
        emit(indent, f"if b < 128: {target} = (b >> 1) ^ -(b & 1); pos += 1")
        emit(indent, f"else: {target}, pos = _read_long(data, pos)")

    def read(self, schema: Any, target: str, indent: int, namespace: str) -> None:
        emit = self.src.emit
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            schema = self.names.resolve(schema, namespace)
        if isinstance(schema, list):
            self._union(schema, target, indent, namespace)
            return
        if isinstance(schema, dict):
            if not isinstance(schema["type"], str):
                self.read(schema["type"], target, indent, namespace)
                return
            if "logicalType" in schema:
                raise Unsupported("logical types are read by fastavro")
        kind = _type_of(schema)
        if kind == "null":
            emit(indent, f"{target} = None")
        elif kind == "boolean":
            emit(indent, "b = data[pos]; pos += 1")
            emit(indent, "if b > 1: raise ValueError(f'{b} is not a boolean')")
            emit(indent, f"{target} = b == 1")
        elif kind in ("int", "long"):
            self.long(target, indent)
        elif kind in ("float", "double"):
            size, unpack = (4, "_unpack_f") if kind == "float" else (8, "_unpack_d")
            emit(indent, f"{target} = {unpack}(data, pos)[0]; pos += {size}")
        elif kind in ("string", "bytes"):
            # A slice past the end is shorter, not an error: the caller checks that the
            # value ends exactly where the bytes do, and any read after fails on its own.
            length = self.src.local()
            emit(indent, "b = data[pos]")
            emit(indent, f"if b < 128 and not b & 1: {length} = b >> 1; pos += 1")
            emit(indent, f"else: {length}, pos = _read_length(data, pos)")
            decode = ".decode()" if kind == "string" else ""
            emit(indent, f"{target} = data[pos:pos + {length}]{decode}; pos += {length}")
        elif kind == "fixed":
            self.names.define(schema, namespace)
            width = int(schema["size"])
            emit(indent, f"if pos + {width} > len(data): raise ValueError('fixed past the end')")
            emit(indent, f"{target} = data[pos:pos + {width}]; pos += {width}")
        elif kind == "enum":
            self.names.define(schema, namespace)
            symbols = self.src.constant(tuple(schema["symbols"]))
            index = self.src.local()
            self.long(index, indent)
            emit(indent, f"if {index} < 0: raise ValueError('negative enum index')")
            emit(indent, f"{target} = {symbols}[{index}]")
        elif kind in ("array", "map"):
            self._blocks(schema, kind, target, indent, namespace)
        elif kind in ("record", "error"):
            self._record(schema, target, indent, namespace)
        else:
            raise Unsupported(f"type {kind}")

    def _blocks(
        self, schema: Mapping[str, Any], kind: str, target: str, indent: int, ns: str
    ) -> None:
        emit = self.src.emit
        count, skipped, item, key = (self.src.local() for _ in range(4))
        emit(indent, f"{target} = {'[]' if kind == 'array' else '{}'}")
        emit(indent, "while True:")
        self.long(count, indent + 1)
        emit(indent + 1, f"if {count} == 0: break")
        emit(indent + 1, f"if {count} < 0:")  # a block that also gives its size in bytes
        emit(indent + 2, f"{count} = -{count}")
        self.long(skipped, indent + 2)
        emit(indent + 1, f"if {count} > len(data): raise ValueError('block count past the end')")
        emit(indent + 1, f"for _ in range({count}):")
        if kind == "array":
            self.read(schema["items"], item, indent + 2, ns)
            emit(indent + 2, f"{target}.append({item})")
        else:
            self.read("string", key, indent + 2, ns)
            self.read(schema["values"], item, indent + 2, ns)
            emit(indent + 2, f"{target}[{key}] = {item}")

    def _record(self, schema: Mapping[str, Any], target: str, indent: int, namespace: str) -> None:
        full, inner = self.names.define(schema, namespace)
        if full in self.names.open:
            raise Unsupported(f"recursive record {full}")
        self.names.open.add(full)
        fields = []
        for field in schema["fields"]:
            local = self.src.local()
            self.read(field["type"], local, indent, inner)
            fields.append(f"{field['name']!r}: {local}")
        self.src.emit(indent, f"{target} = {{{', '.join(fields)}}}")
        self.names.open.discard(full)

    def _union(self, branches: list[Any], target: str, indent: int, namespace: str) -> None:
        emit = self.src.emit
        if len(branches) > 63:
            raise Unsupported("union of more than 63 branches")
        # Every Avro writer writes a branch index below 64 as one byte.
        emit(indent, "b = data[pos]; pos += 1")
        for index, branch in enumerate(branches):
            keyword = "if" if index == 0 else "elif"
            emit(indent, f"{keyword} b == {_zigzag_byte(index)}:")
            self.read(branch, target, indent + 1, namespace)
        emit(indent, "else:")
        emit(indent + 1, "raise ValueError(f'union branch byte {b} is out of range')")


def compile_reader(schema: Any) -> Reader | None:
    """A reader of values written with ``schema`` (no schema resolution), or None when this
    compiler leaves the schema to fastavro."""
    compiler = _ReaderCompiler()
    try:
        compiler.read(schema, "value", 1, "")
    except Unsupported:
        return None
    compiler.src.emit(1, "return value, pos")
    reader: Reader = compiler.src.function(
        "def read(data, pos):",
        "read",
        {
            "_read_long": _read_long,
            "_read_length": _read_length,
            "_unpack_f": struct.Struct("<f").unpack_from,
            "_unpack_d": struct.Struct("<d").unpack_from,
        },
    )
    return reader
