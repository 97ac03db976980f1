"""PSKC (RFC 6030) key containers for an MFA server, written with the
python-pskc library: one KeyPackage per account, with DeviceInfo
(manufacturer, serial number, model), the algorithm URN, Suite (the hash:
SHA1, SHA256 or SHA512) and ResponseFormat (Length, DECIMAL), TimeInterval
or Counter, the issuer, the account's name (FriendlyName) and its user
(UserId).

The secrets are encrypted with AES-128-CBC and each carries an HMAC-SHA1
MAC (RFC 6030 section 6.1), under either a pre-shared key (32 hex digits,
given to the server separately) or a key derived from a password with
PBKDF2-HMAC-SHA1 (section 6.2): what privacyIDEA's importer takes. Its
importer reads the hash from <Suite> as "sha1"/"sha256"/"sha512" and the
token's serial from DeviceInfo's SerialNo, so those carry exactly that
(SerialNo is each account's credential id). A file with the secrets in the
clear only when plaintext=True is asked for.
"""
import io
import secrets

from host_tools.errors import ExportError
from host_tools.exports.output import save, summary
from host_tools.exports.record import check_records
from host_tools.formats.pskcfile import URNS, parse_psk

PBKDF2_ITERATIONS = 100000  # python-pskc's default; a server derives it once per import
PBKDF2_SALT_BYTES = 16
MIN_PASSWORD = 8  # characters: the file holds every secret of a fleet
ENCRYPTION = "aes128-cbc"  # the only one privacyIDEA imports
PSK_NAME = "Pre-shared key"


def new_psk():
    """A fresh pre-shared key, as the 32 hex digits to hand to the server."""
    return secrets.token_hex(16)


def check(records):
    """The records as a list, or ExportError unless a PSKC file can hold
    every one of them (nothing is built or written)."""
    return check_records(records)


def build(records, psk=None, password=None, plaintext=False, iterations=PBKDF2_ITERATIONS):
    """The PSKC document (bytes) for `records` (exports.Record). Exactly one
    of psk (32 hex digits or 16 bytes), password, plaintext=True."""
    from pskc import PSKC
    if (psk is not None) + (password is not None) + bool(plaintext) != 1:
        raise ExportError("a PSKC export needs exactly one of a pre-shared key, a password "
                          "or the plaintext consent", "no_protection")
    records = check(records)
    doc = PSKC()
    if psk is not None:
        try:
            key = parse_psk(psk, (16,))  # AES-128: what privacyIDEA imports
        except ValueError as e:
            raise ExportError(str(e), "bad_psk") from None
        doc.encryption.setup_preshared_key(key=key, algorithm=ENCRYPTION, key_name=PSK_NAME)
    elif password is not None:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise ExportError("the PSKC password must be at least %d characters" % MIN_PASSWORD,
                              "weak_password")
        # No PRF element: PKCS #5's default, HMAC-SHA1, is the one privacyIDEA
        # uses (python-pskc would write it as text, where readers look for
        # an Algorithm attribute).
        doc.encryption.setup_pbkdf2(password, algorithm=ENCRYPTION, key_length=16,
                                    salt_length=PBKDF2_SALT_BYTES, iterations=iterations)
    for r in records:
        device = doc.add_device(manufacturer=r.manufacturer, serial=r.credential_id,
                                model=r.model)
        key = device.add_key(id=r.credential_id, algorithm=URNS[r.kind], issuer=r.issuer or None,
                             friendly_name=r.name, key_userid=r.user or None,
                             algorithm_suite=r.algorithm, response_encoding="DECIMAL",
                             response_length=r.digits, secret=bytes(r.secret))
        if r.kind == "totp":
            key.time_interval = r.period
        else:
            key.counter = r.counter
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()


def write(path, records, *, psk=None, password=None, plaintext=False, overwrite=False,
          iterations=PBKDF2_ITERATIONS):
    """Write the PSKC file for `records` to `path` (mode 0600, whole or not
    at all). Returns a summary (never a secret)."""
    records = list(records)
    data = build(records, psk=psk, password=password, plaintext=plaintext,
                 iterations=iterations)
    save(path, data, overwrite)
    protection = "psk" if psk is not None else "password" if password is not None else "plaintext"
    return summary("pskc", path, records, protection, data)
