"""An attacker's look at a dump of the token's flash: find every copy of key
material and every record copy anywhere in the image (littlefs and FAT keep
old copies in free blocks, so this reads bytes, not the filesystem), try
every key it can get against every record, and report what opens.

Written from docs/security.md and the formats in the firmware's header
comments, on host_tools/tokencrypto.py (the `cryptography` package), with
nothing imported from firmware/: a mistake made in the firmware does not
repeat here.

Keys an attacker gets from a dump: the zero key (a token without a PIN), W
for every PIN they know or guessed (earlier PINs included), and, as the
attack of a recorded login tried, each stored V used as if it were W. Each
page may hold a second wrapped DK (the one being replaced while a PIN change
reseals the records). Dumps taken earlier (`earlier=`, `--earlier`) give
their keys too: someone who read the token once, before its PIN or under a
PIN they learned, tries what they got then against what is on it now.

    python -m host_tools.flashscan IMAGE [--pin P ...] [--json]

prints counts only: never a secret, only a sha256 prefix of each opened one.
"""
import argparse
import hashlib
import json
import struct
import sys

from host_tools import tokencrypto as tc

PAGE = 4096
_BUCKETS = 240
_TABLE = 128
_TABLE_LEN = 16 + 16 * _BUCKETS + tc.SEAL_OVERHEAD
_OLD_DK = _TABLE + _TABLE_LEN  # the DK a renewal replaces, wrapped like the other
_REC = 192


class Opened:
    """One record copy that opened: where, how; the secret stays out of repr."""

    def __init__(self, offset, version, how, secret):
        self.offset = offset
        self.version = version
        self.how = how
        self._secret = secret

    @property
    def secret(self):
        return self._secret

    def __repr__(self):
        return "Opened(offset=%d, version=%d, how=%r, sha256=%s)" % (
            self.offset, self.version, self.how, hashlib.sha256(self._secret).hexdigest()[:12])


class Report:
    def __init__(self):
        self.key_pages = []  # offsets of TKKA pages (current or stale)
        self.legacy_key_files = []  # offsets of TKKY files
        self.records = 0  # record copies with a valid check
        self.data_keys = {}  # how -> count of distinct DKs recovered
        self.opened = []

    def as_dict(self):
        return {"key_pages": len(self.key_pages), "legacy_key_files": len(self.legacy_key_files),
                "records": self.records, "data_keys": dict(self.data_keys),
                "opened": [repr(o) for o in self.opened]}

    def __repr__(self):
        return "Report(%r)" % self.as_dict()


def _find_all(image, needle):
    at = image.find(needle)
    while at >= 0:
        yield at
        at = image.find(needle, at + 1)


def _w_from_pin(pin, salt, iterations):
    kek = tc.pbkdf2_sha256(pin.encode(), salt, iterations, 32)
    return tc.hmac_sha256(kek, b"wrap")


def _wrapping_candidates(salt, iterations, v, pins):
    yield "no-pin", bytes(32)
    for i, pin in enumerate(pins):
        if 0 < iterations <= 10 ** 7:
            yield "pin:%d" % i, _w_from_pin(pin, salt, iterations)
    yield "v-as-w", v


def _data_keys(salt, iterations, v, wrapped, pins):
    """(how, DK) for every candidate W that unwraps `wrapped`."""
    for how, w in _wrapping_candidates(salt, iterations, v, pins):
        dk = _open(w, wrapped, b"dk")
        if dk is not None:
            yield how, dk


def _open(key32, blob, aad):
    try:
        return tc.unseal(key32, blob, aad)
    except tc.CryptoError:
        return None


def _key_pages(image, report, pins):
    """(how, DK, table or None) for every key-area page copy that opens."""
    found = []
    for at in _find_all(image, b"TKKA"):
        page = image[at:at + PAGE]
        if len(page) < _TABLE + _TABLE_LEN:
            continue
        report.key_pages.append(at)
        iterations = struct.unpack_from(">I", page, 12)[0]
        salt, v, wrapped = page[24:40], page[40:72], page[72:128]
        old = page[_OLD_DK:_OLD_DK + 56]
        for how, dk in _data_keys(salt, iterations, v, wrapped, pins):
            table = _open(tc.hmac_sha256(dk, b"table"), page[_TABLE:_TABLE + _TABLE_LEN],
                          b"table")
            found.append((how, dk, table))
            if any(old):
                for how_old, old_dk in _data_keys(salt, iterations, v, old, pins):
                    found.append(("old-" + how_old, old_dk, table))
    return found


def _legacy_files(image, report, pins):
    """Older firmware's key file: 0 TKKY 4 version 8 iterations 16 salt
    32 seal(W, DK, "dk") 88 V."""
    found = []
    for at in _find_all(image, b"TKKY"):
        f = image[at:at + 1024]
        if len(f) < 120:
            continue
        report.legacy_key_files.append(at)
        iterations = struct.unpack_from(">I", f, 8)[0]
        salt, wrapped, v = f[16:32], f[32:88], f[88:120]
        for how, dk in _data_keys(salt, iterations, v, wrapped, pins):
            found.append(("legacy-" + how, dk, None))
    return found


def _record_keys(opened_keys):
    """(how, key32) for records: version 2 under HMAC(DK, "records"), version 3
    under HMAC(DK, "bucket" || b || key_b) for every bucket's key and the
    table's next key."""
    out = []
    for how, dk, table in opened_keys:
        out.append((2, how, tc.hmac_sha256(dk, b"records")))
        if table is None:
            continue
        candidates = [table[16 + 16 * b:32 + 16 * b] for b in range(_BUCKETS)]
        nxt = table[:16]
        for b in range(_BUCKETS):
            for k16 in (candidates[b], nxt):
                out.append((3, how, tc.hmac_sha256(dk, b"bucket" + struct.pack(">H", b) + k16)))
    return out


def _records(image):
    """Every record copy with a valid check: (offset, bytes)."""
    for at in _find_all(image, b"\x54"):
        rec = image[at:at + _REC]
        if len(rec) < _REC or not 1 <= rec[1] <= 3 or rec[7] > 64 or rec[7] == 0:
            continue
        if hashlib.sha256(rec[:188]).digest()[:4] == rec[188:192]:
            yield at, rec


def _keys_in(image, report, pins):
    return _key_pages(image, report, pins) + _legacy_files(image, report, pins)


def scan(image, pins=(), earlier=()):
    """The Report for a dump `image` (bytes), trying `pins` besides no PIN,
    and the keys that the dumps in `earlier` open as well."""
    image = bytes(image)
    report = Report()
    opened_keys = _keys_in(image, report, pins)
    for before in earlier:
        opened_keys += [("earlier-" + how, dk, table) for how, dk, table
                        in _keys_in(bytes(before), Report(), pins)]
    seen_dk = set()
    for how, dk, _ in opened_keys:
        if dk not in seen_dk:
            seen_dk.add(dk)
            report.data_keys[how] = report.data_keys.get(how, 0) + 1
    keys = _record_keys(opened_keys)
    for at, rec in _records(image):
        report.records += 1
        n = rec[7]
        if rec[1] == 1:
            report.opened.append(Opened(at, 1, "plain", bytes(rec[100:100 + n])))
            continue
        blob = rec[164:172] + rec[100:100 + n] + rec[172:188]
        for version, how, key in keys:
            if version != rec[1]:
                continue
            secret = _open(key, blob, rec[:100])
            if secret is not None:
                report.opened.append(Opened(at, rec[1], how, secret))
                break
    return report


def opened_secrets(image, pins=(), earlier=()):
    return {o.secret for o in scan(image, pins, earlier).opened}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m host_tools.flashscan",
                                description="What a dump of the token's flash opens "
                                            "(counts only; no secret is ever printed).")
    p.add_argument("image")
    p.add_argument("--pin", action="append", default=[], help="a PIN the attacker knows")
    p.add_argument("--earlier", action="append", default=[], metavar="IMAGE",
                   help="a dump taken before: its keys are tried too")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    earlier = []
    for path in args.earlier:
        with open(path, "rb") as f:
            earlier.append(f.read())
    with open(args.image, "rb") as f:
        report = scan(f.read(), args.pin, earlier)
    d = report.as_dict()
    print(json.dumps(d) if args.json else "\n".join("%s: %s" % kv for kv in d.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
