"""omnimigrate: backup, restore and migration for Omni Analytics instances."""

__version__ = "0.1.0"
__all__ = ["__version__"]
