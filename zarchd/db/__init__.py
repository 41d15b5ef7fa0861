"""The only code that opens SQLite files: registry access, fingerprints, the writer lock."""
