"""The PINs a fleet run made, one line per token, for the letters that
tell each person theirs (the person gets the token and the PIN apart):

    serial,user,display_name,pin
    TT8P8VEHB84E,helga@contoso.com,Helga Jansen,48120937

A PIN goes into the file before the token is told it, so a run stopped in
between can still open that token when it goes on; the journal says which
tokens are done. The file is written whole each time, mode 0600
(privatefile.py). It holds the PINs in the clear: print the letters, then
delete it.
"""
import csv
import io
import secrets
import threading

from firmware import rules
from host_tools.errors import UsageError
from host_tools.privatefile import write_private

HEADER = ("serial", "user", "display_name", "pin")
DEFAULT_DIGITS = 8


def new_pin(digits=DEFAULT_DIGITS):
    """A PIN of `digits` digits from the CSPRNG, leading zeros kept."""
    if not rules.PIN_MIN <= digits <= rules.PIN_MAX:
        raise UsageError("a PIN is %d-%d digits" % (rules.PIN_MIN, rules.PIN_MAX), "bad_pin")
    return str(secrets.randbelow(10 ** digits)).zfill(digits)


class PinFile:
    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self.rows = {}  # serial -> (user, display_name, pin)
        try:
            with open(path, encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError("cannot read the PIN file %s: %s"
                             % (path, getattr(e, "strerror", None) or type(e).__name__),
                             "bad_pins") from None
        if not rows or tuple(rows[0]) != HEADER or any(len(r) != len(HEADER) for r in rows[1:]):
            raise UsageError("%s is not a fleet PIN file (%s)" % (path, ",".join(HEADER)),
                             "bad_pins")
        self.rows = {r[0]: tuple(r[1:]) for r in rows[1:]}

    def get(self, serial):
        with self._lock:
            row = self.rows.get(serial)
            return row[2] if row else None

    def put(self, serial, person, pin):
        with self._lock:
            rows = dict(self.rows)
            rows[serial] = (person.user, person.display_name, pin)
            self._write(rows)
            self.rows = rows

    def drop(self, serial):
        with self._lock:
            if serial in self.rows:
                rows = dict(self.rows)
                del rows[serial]
                self._write(rows)
                self.rows = rows

    def _write(self, rows):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for serial, row in rows.items():
            writer.writerow((serial,) + row)
        write_private(self.path, out.getvalue().encode("utf-8"), overwrite=True)
