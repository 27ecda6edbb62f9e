"""priorbench's harness: specs, registry, runner, run records, metrics and the CLI."""

from bench.errors import UserError

__all__ = ["UserError"]
__version__ = "0.1.0"
