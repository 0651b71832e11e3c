"""Bridges: convert a topic of one data area into a topic of another, keeping nothing."""
