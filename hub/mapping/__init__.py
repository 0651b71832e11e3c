"""Declarative mappings between the vocabularies of two data areas (see docs in ``spec``).

``load_mapping`` reads a mapping file with located errors, ``check_mapping`` type-checks it
against the source and target Avro schemas, ``compile_mapping`` turns it into a function
from a source record to a target record, and ``compile_key_mapping`` a source key into a
target key (for tombstones, which have no record).
"""

from hub.mapping.check import check_mapping
from hub.mapping.compile import MappingError, compile_key_mapping, compile_mapping
from hub.mapping.spec import FieldRule, MappingSpec, load_mapping

__all__ = [
    "FieldRule",
    "MappingError",
    "MappingSpec",
    "check_mapping",
    "compile_key_mapping",
    "compile_mapping",
    "load_mapping",
]
