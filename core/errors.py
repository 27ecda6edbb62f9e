"""The one exception type for mistakes a user can make (bad names, specs, paths, data).

The CLI turns it into one line on stderr and exit status 2, never a traceback.
"""


class UserError(Exception):
    """A problem caused by the user's input; the message names the thing and the fix."""
