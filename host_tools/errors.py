"""Every error the host package raises on purpose, and the CLI's exit codes.

TokenError and its kin come from talking to a token (the transport in
link.py, the protocol library in client.py and beside it); FormatError and
PasswordError from reading files (host_tools.formats, the backup);
CommandError is a command that failed, with the exit code the CLI returns,
and ExportError one of those from writing a file for an MFA server
(host_tools.exports).
They live here, apart from any module that raises them, so the transport
need not import the protocol library for its errors. No message ever
contains a secret.
"""
from firmware.protocol import frames

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_DEVICE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


class TokenError(Exception):
    """Base of every error from talking to a token; carries a short machine
    code and the exit code a CLI should use."""
    exit_code = EXIT_DEVICE

    def __init__(self, message, code="error", exit_code=None):
        Exception.__init__(self, message)
        self.message = message
        self.code = code
        if exit_code is not None:
            self.exit_code = exit_code


class NoDeviceError(TokenError):
    """port: the port named, when the error is that port (it may be the
    wrong one); None when no port was found at all."""

    def __init__(self, message, code="no_device", port=None):
        TokenError.__init__(self, message, code, EXIT_DEVICE)
        self.port = port


class PortBusyError(TokenError):
    """Another program holds the port (a second provision.py, a serial monitor)."""

    def __init__(self, port):
        TokenError.__init__(self, "the port %s is in use by another program" % port,
                            "port_busy", EXIT_DEVICE)


class NotTokenError(TokenError):
    """port: set when the device there never answered as a token (it may be
    the wrong port); None when a token answered before and then went quiet."""

    def __init__(self, message, code="not_token", port=None):
        TokenError.__init__(self, message, code, EXIT_DEVICE)
        self.port = port


class LinkLostError(TokenError):
    def __init__(self, message, code="link_lost"):
        TokenError.__init__(self, message, code, EXIT_DEVICE)


class DeviceError(TokenError):
    """The token answered and refused; `code` is its named error (name_taken, ...).
    `tries_left` comes with PIN failures."""

    def __init__(self, code, message, tries_left=None):
        TokenError.__init__(self, message, code, EXIT_REFUSED)
        self.tries_left = tries_left


class RequestTooLongError(TokenError):
    """A request that would not fit in one frame; caught before sending."""

    def __init__(self, message):
        TokenError.__init__(self, message, frames.E_TOO_LONG, EXIT_USAGE)


# What an erased token's refusal says; provision.py says it again at the end.
ERASED_MESSAGE = ("the token erased itself after too many wrong PINs: its accounts and "
                  "keys are gone. Set it up again from your backup (provision.py restore)")


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


class ExportError(CommandError):
    """An export for an MFA server that was refused or could not be written
    (a template the format can't carry, no consent to a plaintext file, an
    unwritable path): nothing was written. Exit 2; the message never
    contains a secret."""

    def __init__(self, message, code="bad_export"):
        CommandError.__init__(self, message, code, EXIT_USAGE)


class ServerError(CommandError):
    """The MFA server (privacyIDEA, host_tools/privacyidea.py) could not be
    reached (exit 3), refused (exit 1), or answered something else than an
    answer. `status` is its HTTP status when it answered. The message never
    holds the admin token or a key."""

    def __init__(self, message, code="server_error", exit_code=EXIT_REFUSED, status=None):
        CommandError.__init__(self, message, code, exit_code)
        self.status = status
