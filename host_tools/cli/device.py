"""The token itself: `status`, `info`, `maintenance`, `devices` (every
token and simulator this computer can see) and `wipe`."""
import datetime
import json

from host_tools import link
from host_tools.cli.common import table
from host_tools.client import TokenClient
from host_tools.errors import TokenError, UsageError


# ---- status / info ----

def run_status(args, connect):
    with connect() as client:
        data = client.status()
    lines = list(_flatten(data))
    if data.get("fault"):  # a part missing at boot: the first thing to read
        lines.insert(0, "FAULT: %s" % data["fault"])
    unix = (data.get("clock") or {}).get("unix")
    if isinstance(unix, (int, float)) and not data["clock"].get("lost"):
        when = datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
        lines.append("clock (UTC): %s" % when.strftime("%Y-%m-%d %H:%M:%S"))
    return data, "\n".join(lines)


def run_info(args, connect):
    with connect() as client:
        data = client.info()
    return data, "\n".join(_flatten(data))


def _flatten(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, prefix + key + ".")
        else:
            yield "%s%s: %s" % (prefix, key, value if isinstance(value, str)
                                else json.dumps(value))


# ---- maintenance ----

MAINTENANCE_TEXT = ("the token is restarting into its maintenance REPL: run `make deploy` "
                    "(or mpremote) now; the next reset or replug starts the firmware again")


def run_maintenance(args, connect):
    with connect() as client:
        data = client.reboot_maintenance()
    return data, MAINTENANCE_TEXT


# ---- devices ----

PROBE_TIMEOUT_S = 1.5  # per port: a token answers `info` in milliseconds


def run_devices(args, connect):
    """The tokens and simulators this computer can see, each asked `info`."""
    rows = []
    for found in link.candidates():
        dev = dict(found, board=None, version=None, state="ok")
        try:
            with TokenClient(link.SerialLink(found["port"]),
                             timeout=min(args.timeout, PROBE_TIMEOUT_S)) as client:
                info = client.info()
            dev["board"] = info.get("board")
            dev["version"] = info.get("version")
        except TokenError as e:  # busy, at the REPL, not answering: say so, go on
            dev["state"] = e.code
            dev["message"] = e.message
        rows.append(dev)
    if not rows:
        return {"devices": []}, "no tokens or simulators found"
    lines = table(("port", "kind", "board", "firmware", "state"),
                   [(d["port"], d["description"], d["board"] or "-", d["version"] or "-",
                     "ok" if d["state"] == "ok" else _STATE_WORDS.get(d["state"], d["state"]))
                    for d in rows])
    return {"devices": rows}, "\n".join(lines)


_STATE_WORDS = {"port_busy": "in use by another program", "not_token": "not token firmware",
                "no_answer": "no answer", "no_device": "cannot open"}


# ---- wipe ----

def wipe_arguments(p):
    p.add_argument("--yes", action="store_true", help="really delete every account")
    p.add_argument("--scrub", action="store_true",
                   help="also overwrite all free flash, so no old copy of a key or record "
                        "survives anywhere (before giving the token away; takes a while)")


def run_wipe(args, connect):
    if not args.yes:
        raise UsageError("wipe deletes every account on the token; add --yes to confirm",
                         "confirm_required")
    with connect() as client:
        data = client.wipe(scrub=args.scrub)
    return data, "wiped: %s accounts deleted%s" % (
        data.get("deleted"), ", free flash overwritten" if args.scrub else "")
