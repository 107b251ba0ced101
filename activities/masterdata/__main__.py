"""``python -m activities.masterdata``: see activities/masterdata/cli.py."""

from activities.masterdata.cli import cli

cli()
