"""The errors a command ends with: each is one line for the user, and the exit code it
means (``interface.md``: 2 bad usage or configuration, 1 an unexpected failure). Shared by
the CLI, which prints them, and everything below it, which raises them, so that none of
those imports the CLI."""

from __future__ import annotations


class PredarbError(Exception):
    """Stops the command with this one line on stderr and ``exit_code``."""

    exit_code = 2


class ConfigError(PredarbError):
    """Bad configuration: the line names the variable.

    ``ConfigError("POLY_FUNDER", "must be an address")``, or the whole line at once:
    ``ConfigError("POLY_FUNDER: must be an address")``."""

    def __init__(self, variable: str, reason: str = "") -> None:
        if not reason:
            variable, _, reason = variable.partition(": ")
        self.variable = variable
        self.reason = reason
        super().__init__(f"{variable}: {reason}" if reason else variable)


class UsageProblem(PredarbError):
    """Bad usage, or a state the user can fix (a database of another mode, say)."""


class StartupFailure(PredarbError):
    """The bot could not start for a reason that is not the configuration (a venue or a
    database failing in an unexpected way); the traceback is in the log."""

    exit_code = 1
