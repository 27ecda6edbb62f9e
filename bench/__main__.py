"""`python -m priorbench.bench` is the same as the `priorbench` console script."""

from priorbench.bench.cli import main

raise SystemExit(main())
