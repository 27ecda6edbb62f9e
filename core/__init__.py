"""priorbench's bottom floor: errors, the registry, config building and hashing, seeding, paths.

Nothing here imports anything else of the project; envs, agents and the harness all build on it.
"""

from priorbench.core.errors import UserError

__all__ = ["UserError"]
