"""Allow `python -m routing ...`."""

from routing.cli import main

raise SystemExit(main())
