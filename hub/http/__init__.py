"""The hub's HTTP server: health, readiness, service info, metrics and the embedded registry."""
