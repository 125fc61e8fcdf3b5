"""The one place drimlab's version is written (the package and every report read it here)."""

__version__ = "0.1.0"
