"""The command lines: thin Typer apps `zarchd` and `zarchctl`; the only place errors exit."""
