"""`python -m zarchd` runs the daemon's CLI (the service units fall back to it)."""

from zarchd.cli.zarchd import main

main()
