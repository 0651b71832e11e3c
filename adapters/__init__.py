"""Source adapters: each turns what a source family serves into canonical records."""
