"""zarchd: keeps the 7zarch-go registry backed up, verified and migrated."""

__version__ = "0.1.0"
