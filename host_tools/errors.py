"""The errors the host package shares outside the protocol library (whose
own, TokenError and kin, live in client.py), and the CLI's exit codes.

FormatError and PasswordError come from reading files (host_tools.formats,
the backup); CommandError is a command that failed, with the exit code the
CLI returns. No message ever contains a secret.
"""

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_DEVICE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


class FormatError(ValueError):
    """The input is malformed. The message is for the user and never
    contains a secret."""


class PasswordError(FormatError):
    """An encrypted export needs a password, or the one given is wrong."""


class CommandError(Exception):
    """A command that failed: message and machine code as every error has,
    the exit code, `data` for the JSON error (what was done before it failed)
    and `report`, the same for people, printed on stdout."""

    def __init__(self, message, code="bad_input", exit_code=EXIT_USAGE, data=None,
                 report=None):
        Exception.__init__(self, message)
        self.message = message
        self.code = code
        self.exit_code = exit_code
        self.data = data
        self.report = report or []


class UsageError(CommandError):
    """Bad input or usage: exit 2."""

    def __init__(self, message, code="bad_input"):
        CommandError.__init__(self, message, code, EXIT_USAGE)
