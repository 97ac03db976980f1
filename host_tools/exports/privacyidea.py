"""privacyIDEA's OATH CSV (Tokens, Import, "OATH CSV"): one line per
account,

    <serial>, <key in hex>, totp, <digits>, <period>
    <serial>, <key in hex>, hotp, <digits>, <counter>

The format has no column for the hash: privacyIDEA takes SHA256 for a
64-hex-digit key, SHA512 for 128, SHA224 for 56, SHA384 for 96 and SHA1
for any other length. A record whose key length would be read as another
hash than its own is refused (use PSKC for it); the secrets the fleet
makes (20, 32, 64 bytes for SHA1, SHA256, SHA512) always fit. No user
column (that is the version 2 format, which needs the server's resolver
and realm). The file is plaintext by nature: written only with the
caller's explicit consent.
"""
from host_tools.exports.output import csv_problem, write_plaintext
from host_tools.exports.record import check_records, template_problem as any_problem

# privacyIDEA's reading of the key's length (bytes) when it picks the hash.
_HASH_BY_KEY_BYTES = {32: "SHA256", 64: "SHA512", 28: "SHA224", 48: "SHA384"}


def key_hash(secret_bytes):
    """The hash privacyIDEA will use for a key of this many bytes."""
    return _HASH_BY_KEY_BYTES.get(secret_bytes, "SHA1")


def template_problem(kind, algorithm, digits, period=30, secret_bytes=None):
    """Why privacyIDEA's OATH CSV can't carry accounts of these settings, or
    None. secret_bytes: the key length (None: the fleet's, which fits)."""
    why = any_problem(kind, algorithm, digits, period)
    if why:
        return why
    if secret_bytes is not None and key_hash(secret_bytes) != algorithm:
        return ("privacyIDEA's OATH CSV has no hash column and would read a %d-byte key as "
                "%s, not %s: use the PSKC export for it" % (secret_bytes,
                                                            key_hash(secret_bytes), algorithm))
    return None


def _template(r):
    size = len(r.secret) if isinstance(r.secret, (bytes, bytearray)) else None
    return template_problem(r.kind, r.algorithm, r.digits, r.period, size)


def _problem(r):
    return csv_problem(r.credential_id, "the serial")


def check(records):
    """The records as a list, or ExportError unless the OATH CSV can hold
    every one of them (nothing is built or written)."""
    return check_records(records, _problem, _template)


def build(records):
    """The CSV (bytes, one line per account) for `records` (exports.Record)."""
    records = check(records)
    lines = []
    for r in records:
        step = r.period if r.kind == "totp" else r.counter
        lines.append("%s, %s, %s, %d, %d" % (r.credential_id, bytes(r.secret).hex(), r.kind,
                                             r.digits, step))
    return ("\n".join(lines) + "\n").encode("ascii")


def write(path, records, *, plaintext, overwrite=False):
    """Write privacyIDEA's OATH CSV for `records` to `path` (mode 0600,
    whole or not at all). plaintext=True is the caller's consent to secrets
    in the clear on disk: it has no default, and anything but True refuses."""
    return write_plaintext(path, records, build, "privacyidea-csv", "the privacyIDEA OATH CSV",
                           plaintext, overwrite)
