"""What every account importer returns, and the errors it raises.

Importers turn a user's file (otpauth URIs, QR images, Google Authenticator
exports, Aegis, 2FAS, andOTP) into Account objects. Entries the token can't
hold are listed with the reason instead of failing the whole file.
"""


class FormatError(ValueError):
    """The input is malformed. The message is for the user and never
    contains a secret."""


class PasswordError(FormatError):
    """An encrypted export needs a password, or the one given is wrong."""


class Parsed:
    """accounts: list of host_tools.otpauth.Account (validated);
    rejected: list of (label, reason) for entries the token can't hold;
    deleted: Accounts a backup keeps marked as deleted from the token
    (restore leaves them out unless asked)."""

    def __init__(self, accounts=None, rejected=None, deleted=None):
        self.accounts = list(accounts or [])
        self.rejected = list(rejected or [])
        self.deleted = list(deleted or [])

    def extend(self, other):
        self.accounts.extend(other.accounts)
        self.rejected.extend(other.rejected)
        self.deleted.extend(other.deleted)
        return self
