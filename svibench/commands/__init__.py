"""CLI sub-commands, one module each (mounted by svibench/cli.py)."""
