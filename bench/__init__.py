"""priorbench's harness: specs, registry, runner, run records, metrics and the CLI."""

from priorbench.core.errors import UserError

__all__ = ["UserError"]
__version__ = "0.1.0"
