"""The one exception type that the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """A problem with the user's input (file, flag, value) that the user can fix.

    The message names the problem and the fix in one line; the CLI prints it as
    ``error: <message>`` and exits with code 2, without a traceback.
    """
