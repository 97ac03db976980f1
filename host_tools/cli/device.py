"""The token itself: `status`, `info`, `maintenance`, `devices` (every
token and simulator this computer can see) and `wipe`."""
import datetime

from host_tools import link
from host_tools.cli.common import table
from host_tools.client import TokenClient
from host_tools.errors import TokenError, UsageError


# ---- status / info ----

def run_status(args, connect):
    with connect() as client:
        data = client.status()
    return data, "\n".join(status_lines(data))


def run_info(args, connect):
    with connect() as client:
        data = client.info()
    return data, "\n".join(info_lines(data))


# The summaries people read: one line per part of the token, each from what
# the reply has (an older firmware may leave some out). --json has every key.

def _line(group, *parts):
    return "%-10s %s" % (group + ":", ", ".join(p for p in parts if p))


def _size(n):
    return "%d B" % n if n < 1024 else "%.1f KB" % (n / 1024) if n < 1 << 20 \
        else "%.1f MB" % (n / (1 << 20))


def _utc(unix, fmt="%Y-%m-%d %H:%M:%S"):
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).strftime(fmt)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _lock(auth, now):
    if not auth:
        return None
    if auth.get("erased"):
        return "ERASED after too many wrong PINs (restore from your backup)"
    idle = auth.get("lock_after_s")
    listing = "list private" if auth.get("list_private") else "list public"
    when = ("locks after %d s idle" % idle) if idle else "locks only at power-up"
    if auth.get("pin"):
        tries = "%s of %s tries left" % (auth.get("tries_left"), auth.get("tries_max"))
        head = "PIN, locked" if auth.get("locked") else "PIN, unlocked"
        return "%s, %s, %s; %s" % (head, tries, when, listing)
    digits = auth.get("pin_digits")
    need = " (%d-%d digits when set)" % tuple(digits) if digits else ""
    return "no PIN%s, %s tries before the erase, %s; %s" % (need, auth.get("tries_max"), when,
                                                           listing)


def _uptime(seconds):
    if seconds < 60:
        return "%d s" % seconds
    if seconds < 3600:
        return "%d min" % (seconds // 60)
    return "%d h %d min" % (seconds // 3600, seconds % 3600 // 60)


def status_lines(data):
    lines = ["FAULT: %s" % data["fault"]] if data.get("fault") else []
    storage = data.get("storage") or {}
    count = "%s of %s" % (data.get("accounts"), data["capacity"]) if data.get("capacity") \
        else "%s" % data.get("accounts")
    space = "flash %s free of %s" % (_size(storage["free"]), _size(storage["total"])) \
        if _number(storage.get("free")) and _number(storage.get("total")) else None
    if data.get("accounts") is not None:
        lines.append(_line("accounts", count, space))
    clock = data.get("clock") or {}
    if clock.get("lost"):
        lines.append(_line("clock", "LOST: no time-based codes (run sync-time)"))
    elif _number(clock.get("unix")):
        drift = clock.get("drift") or {}
        ppm, err = drift.get("drift_ppm"), drift.get("expected_error_ms")
        lines.append(_line(
            "clock", _utc(clock["unix"]) + " UTC" + (
                ", %g C" % clock["temperature_c"] if _number(clock.get("temperature_c")) else ""
            ) + ("; drift %+g ppm" % ppm if _number(ppm) else "; drift not measured yet")
            + (" (expect %d ms off)" % err if _number(err) else ""),
            "last sync " + _utc(drift["last_sync"], "%Y-%m-%d")
            if _number(drift.get("last_sync")) else None,
            "aging %d" % clock["aging"] if _number(clock.get("aging")) else None))
    lock = _lock(data.get("lock"), clock.get("unix"))
    if lock:
        lines.append(_line("lock", lock))
    diag = data.get("diag") or {}
    if _number(data.get("uptime_s")):
        lines.append(_line("firmware", "up " + _uptime(data["uptime_s"]),
                           "%s errors" % diag.get("errors", 0),
                           "%s presses" % diag["presses"] if "presses" in diag else None))
    return lines


def info_lines(data):
    lines = ["FAULT: %s" % data["fault"]] if data.get("fault") else []
    head = " ".join(str(data[k]) for k in ("firmware", "version") if data.get(k))
    if data.get("protocol") is not None:
        head += " (protocol %s)" % data["protocol"]
    lines.append(_line("firmware", head, "board %s" % data["board"] if data.get("board") else None,
                       data.get("runtime")))
    if data.get("serial"):
        lines.append(_line("serial", data["serial"]))
    display = data.get("display")
    shown = "display %dx%d" % tuple(display) if display else None
    if data.get("capacity"):
        lines.append(_line("accounts", "up to %d; %s" % (data["capacity"], shown) if shown
                           else "up to %d" % data["capacity"]))
    elif shown:
        lines.append(_line("display", shown[len("display "):]))
    lock = _lock(data.get("auth"), None)
    if lock:
        lines.append(_line("lock", lock))
    kb = data.get("keyboard")
    if kb:
        if not kb.get("supported"):
            lines.append(_line("keyboard", "none (this board has no native USB)"))
        else:
            lines.append(_line(
                "keyboard", "typing %s" % ("on (double press)" if kb.get("typing") else "off"),
                "layout %s" % kb.get("layout"),
                "keypad digits" if kb.get("keypad") else "top-row digits",
                "Enter after" if kb.get("enter") else "no Enter"))
    if data.get("features"):
        lines.append(_line("features", " ".join(data["features"])))
    return lines


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
        dev = dict(found, board=None, serial=None, version=None, state="ok")
        try:
            with TokenClient(link.SerialLink(found["port"]),
                             timeout=min(args.timeout, PROBE_TIMEOUT_S)) as client:
                info = client.info()
            dev["board"] = info.get("board")
            dev["serial"] = info.get("serial")  # which token is on which port
            dev["version"] = info.get("version")
        except TokenError as e:  # busy, at the REPL, not answering: say so, go on
            dev["state"] = e.code
            dev["message"] = e.message
        rows.append(dev)
    if not rows:
        return {"devices": []}, "no tokens or simulators found"
    lines = table(("port", "kind", "board", "serial", "firmware", "state"),
                   [(d["port"], d["description"], d["board"] or "-", d["serial"] or "-",
                     d["version"] or "-",
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
