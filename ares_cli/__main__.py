"""`python -m ares_cli` is the same as `ares`."""

from ares_cli.cli import main

main()
