"""Command-line interface. Each module in :mod:`dosimetry.cli.commands` adds one sub-command."""
