"""Avro schemas as the hub sees them: the catalogue of schemas/avro/, indexed by full name."""

from hub.schemas.catalogue import SchemaCatalogue, SchemaEntry, default_schema_dir

__all__ = ["SchemaCatalogue", "SchemaEntry", "default_schema_dir"]
