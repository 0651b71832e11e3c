"""Tsunagu: a thin, distributed data-linkage hub for smart cities."""

__version__ = "0.1.0"
__all__ = ["__version__"]
