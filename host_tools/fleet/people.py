"""The people a fleet run gives tokens to: a CSV file, one person a line.

    user,display_name,accounts
    helga@contoso.com,Helga Jansen,vpn;mail
    bob@contoso.com,Bob Stone,

Columns (the first line names them, in any order, any case):
  user          required: the user principal name or user id the MFA
                server knows the person by (also: upn, userPrincipalName,
                user_id, userid)
  display_name  optional: the name printed beside the PIN (also:
                displayName, name)
  accounts      optional: which of the template's accounts this person
                gets, separated by ';' or spaces; empty: all of them

An unknown column, a column named twice, a person twice (users compare
without regard to case: servers do), an empty user, a row with more
cells than columns, or a file without people is refused, naming the line.
"""
import csv
import dataclasses
import re

from host_tools.errors import UsageError
from host_tools.exports.output import FORMULA_START

COLUMNS = {
    "user": ("user", "upn", "userprincipalname", "user_id", "userid"),
    "display_name": ("display_name", "displayname", "name"),
    "accounts": ("accounts",),
}
_ALIASES = {alias: field for field, names in COLUMNS.items() for alias in names}
MAX_PEOPLE = 100000
_SPLIT = re.compile(r"[;\s]+")


@dataclasses.dataclass(frozen=True)
class Person:
    user: str
    display_name: str = ""
    accounts: tuple = None  # account keys; None: every account of the template
    line: int = 0           # where in the file

    @property
    def key(self):
        """How two rows are told to be the same person."""
        return self.user.casefold()


def _fail(message, code="bad_people"):
    raise UsageError(message, code)


def _header(row, source):
    fields = []
    for cell in row:
        name = cell.strip()
        field = _ALIASES.get(name.lower())
        if field is None:
            _fail("%s: unknown column %r (the columns are %s)"
                  % (source, name, ", ".join(COLUMNS)), "unknown_column")
        if field in fields:
            _fail("%s: two columns are the %s (%r)" % (source, field, name), "unknown_column")
        fields.append(field)
    if "user" not in fields:
        _fail("%s: no user column (its first line names the columns: %s)"
              % (source, ", ".join(COLUMNS)))
    return fields


def _text(value, what, where):
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        _fail("%s: %s contains a control character" % (where, what))
    if value.startswith(FORMULA_START):
        # It goes into CSV files (the exports, the PINs) that a spreadsheet may open.
        _fail("%s: %s starts with %r, which a spreadsheet runs as a formula"
              % (where, what, value[0]))
    return value


def parse(text, source="the people file"):
    """The people of a CSV document (str): a list of Person."""
    if text.startswith("\ufeff"):  # a spreadsheet's UTF-8 mark
        text = text[1:]
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as e:
        _fail("%s is not a CSV file (%s)" % (source, e))
    numbered = [(n, row) for n, row in enumerate(rows, 1) if any(c.strip() for c in row)]
    if not numbered:
        _fail("%s is empty: its first line names the columns (%s), then one person a line"
              % (source, ", ".join(COLUMNS)), "no_people")
    fields = _header(numbered[0][1], source)
    people = []
    seen = {}
    for n, row in numbered[1:]:
        where = "%s line %d" % (source, n)
        if len(row) > len(fields):
            _fail("%s: %d cells, but %d columns (a comma inside a name? quote the cell)"
                  % (where, len(row), len(fields)))
        cells = dict(zip(fields, (c.strip() for c in row)))
        user = _text(cells.get("user", ""), "the user", where)
        if not user:
            _fail("%s: no user" % where)
        accounts = cells.get("accounts", "")
        person = Person(user=user,
                        display_name=_text(cells.get("display_name", ""), "the display name",
                                           where),
                        accounts=tuple(k for k in _SPLIT.split(accounts) if k) or None,
                        line=n)
        if person.key in seen:
            _fail("%s: %s is already on line %d (each person gets one token)"
                  % (where, user, seen[person.key]), "duplicate_user")
        seen[person.key] = n
        people.append(person)
        if len(people) > MAX_PEOPLE:
            _fail("%s: more than %d people" % (source, MAX_PEOPLE))
    if not people:
        _fail("%s names its columns but no people" % source, "no_people")
    return people


def read(path):
    """The people of the CSV file at `path`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        _fail("cannot read %s: %s" % (path, e.strerror or e), "bad_file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        _fail("%s is not UTF-8 text (save it as CSV UTF-8)" % path)
    return parse(text, path)
