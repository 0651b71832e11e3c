"""Tests of the deployment configuration and the schema catalogue."""
