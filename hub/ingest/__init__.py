"""Feed ingestion: the runner that fetches, parses (through an adapter), validates, de-duplicates
and produces, with per-feed state that survives restarts."""
