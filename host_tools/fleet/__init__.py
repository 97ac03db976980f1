"""Tokens for a team (`provision.py fleet`, docs/fleet.md): a list of
people, a template, and as many tokens as are plugged in, each given one
person's accounts with secrets made here, its clock set, maybe a PIN, and
the secrets handed to the MFA server. Nothing here knows the command line.

  people.py    the people CSV
  template.py  the accounts each token gets, their names and secrets
  journal.py   who got which token and how far each got (no secrets)
  pins.py      the PINs made for the tokens (a 0600 file, for the letters)
  sinks.py     where the secrets go: an export file, or privacyIDEA
  run.py       the run itself: several tokens at once, or one by one

    people = fleet.people.read("people.csv")
    template = fleet.Template(issuer="Contoso", name="{user}").check()
    sink = fleet.FileSink("pskc", "fleet.pskc", psk=exports.new_psk())
    fleet.preflight(people, template, sink)        # before any token
    with fleet.Journal("people.journal.json", template.as_dict()) as journal:
        sink.open(journal, template)
        run = fleet.Fleet(people, template, journal, sink, open_client)
        outcomes = run.parallel(["/dev/ttyACM0", "/dev/ttyACM1"])
"""
from host_tools import exports
from host_tools.errors import ExportError, UsageError
from host_tools.fleet import people  # noqa: F401
from host_tools.fleet.journal import Journal  # noqa: F401
from host_tools.fleet.pins import PinFile  # noqa: F401
from host_tools.fleet.run import Fleet, Outcome  # noqa: F401
from host_tools.fleet.sinks import FileSink, ServerSink  # noqa: F401
from host_tools.fleet.template import Template  # noqa: F401

STAND_IN_SERIAL = "TTXXXXXXXXXX"  # checks run before any token's serial is known


def preflight(people_list, template, sink):
    """Every check that needs no token: the template, each person's
    accounts against the token's rules, and against what the sink (an
    export format, a server) can carry. UsageError or ExportError, naming
    the person, before any token is touched."""
    template.check()
    if isinstance(sink, FileSink):
        why = exports.check_template(sink.kind, template.kind, template.algorithm,
                                     template.digits, template.period)
        if why:
            raise ExportError(why, "unsupported_template")
    for person in people_list:
        labels = template.check_person(person)
        records = exports.number_credentials(
            exports.Record(serial=STAND_IN_SERIAL, user=person.user, name=name, issuer=issuer,
                           kind=template.kind, algorithm=template.algorithm,
                           digits=template.digits, secret=bytes(template.secret_bytes),
                           period=template.period, counter=template.counter)
            for _, issuer, name in labels)
        try:
            sink.check(records)
        except (ExportError, UsageError) as e:
            e.message = "%s (line %d): %s" % (person.user, person.line, e.message)
            e.args = (e.message,)
            raise
