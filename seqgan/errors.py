"""The one exception type that the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """A problem with the user's input (file, flag, value) that the user can fix.

    The message names the problem and the fix in one line; the CLI prints it as
    ``error: <message>`` and exits with code 2, without a traceback.
    """


class TrainingError(Exception):
    """Training cannot go on (e.g. a loss became NaN); the last good checkpoint is kept.

    The CLI prints ``error: <message>`` and exits with code 1.
    """


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; the run finished its epoch, saved a checkpoint and stopped.

    The message holds the command that continues the run. The CLI exits with code 130.
    """
