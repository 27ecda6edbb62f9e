"""`python -m bench` is the same as the `priorbench` console script."""

from bench.cli import main

raise SystemExit(main())
