"""Tests of the schema registry: compatibility, store, HTTP server and client."""
