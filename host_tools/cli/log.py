"""`log` (the token's diagnostic log) and `data` (what is stored where, and
how to delete it). Each run(args, connect) returns (data, text), as every
command module's does."""
import json
import sys
import time

from host_tools import inventory
from host_tools.cli.common import table
from host_tools.errors import EXIT_USAGE, CommandError

FOLLOW_POLL_S = 1.0


# ---- log ----

def log_arguments(p):
    p.add_argument("--follow", "-f", action="store_true",
                   help="keep showing new entries as they come (Ctrl-C to stop)")
    p.add_argument("--clear", action="store_true",
                   help="delete every entry (asks first; --yes skips the question)")
    p.add_argument("--yes", action="store_true", help="clear without asking")
    p.add_argument("--names", choices=("on", "off"),
                   help="let the log name accounts on add/delete (off by default)")


def fetch(client, after=None):
    """Every entry (oldest first) with seq > after, paging through the token's
    replies; also the log's counters from the last reply."""
    entries = []
    if after is None:
        before = None
        while True:
            args = {"order": "newest"}
            if before is not None:
                args["before"] = before
            reply = client.request("log", **args)
            entries.extend(reply["entries"])
            if not reply["more"] or not reply["entries"]:
                break
            before = reply["entries"][-1][0]
        entries.reverse()
    else:
        while True:
            reply = client.request("log", order="oldest", after=after)
            entries.extend(reply["entries"])
            if not reply["more"] or not reply["entries"]:
                break
            after = reply["entries"][-1][0]
    stats = {k: v for k, v in reply.items() if k not in ("entries", "more")}
    return entries, stats


def as_dict(entry):
    seq, t, uptime, event, a, b, c, text = entry
    return {"seq": seq, "time": t, "clock_lost": bool(uptime), "event": event,
            "a": a, "b": b, "c": c, "text": text}


def ago(t, now):
    """'3 min ago' style."""
    d = int(now - t)
    if d < 0:
        return "in %s" % _span(-d)
    if d < 5:
        return "just now"
    return "%s ago" % _span(d)


def _span(d):
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if d >= size:
            n = d // size
            return "%d %s%s" % (n, unit, "s" if unit == "day" and n != 1 else "")
    return "%d s" % d


def when(entry, now):
    _, t, uptime = entry[:3]
    if uptime:
        return "%d s after boot" % t  # no clock: only the uptime is known
    return ago(t, now)


def _aging(v):
    return "?" if v is None else "%+d" % v


def describe(entry):
    """One line of plain words for an entry."""
    seq, t, uptime, event, a, b, c, text = entry
    if event == "boot":
        return "started (reset cause: %s; %s accounts)" % (text or "unknown", b)
    if event == "boot-failed":
        return "could not start: %s" % text
    if event == "error":
        where = ("loop", "request", "bad frame", "refused")[a] if a in (0, 1, 2, 3) else a
        times = " (x%d)" % c if c and c > 1 else ""
        return "error in %s: %s%s" % (where, text, times)
    if event == "sync":
        found = "clock was lost" if a is None else "clock was %+d ms off" % a
        trim = "; aging trimmed %s -> %s" % (_aging(b), _aging(c)) if b != c else ""
        return "time synced: %s%s" % (found, trim)
    if event == "clock-lost":
        return "clock lost (%s): codes hidden" % ("oscillator stopped" if a else "implausible date")
    if event == "clock-ok":
        return "clock good again"
    if event == "pin-failed":
        return "wrong PIN (%s in a row, %s tries left)" % (a, b)
    if event == "pin-locked":
        return "locked after %s wrong PINs" % a
    if event == "pin-set":
        return "PIN set or changed" if a else "PIN removed"
    if event == "code-sent":
        return "a press on the token sent the code of account %s%s to the computer" % (
            b, " (%s)" % text if text else "")
    if event in ("add", "delete"):
        verb = "added" if event == "add" else "deleted"
        named = " (%s)" % text if text else ""
        return "%s %s account%s%s; %s on the token" % (verb, a, "" if a == 1 else "s", named, b)
    if event == "wipe":
        return "wiped: %s accounts deleted" % a
    if event == "store-repaired":
        return "store repaired after a power cut: %s damaged record%s dropped%s" % (
            a, "" if a == 1 else "s", ", index rebuilt" if b else "")
    if event == "log-cleared":
        return "log cleared"
    if event == "dropped":
        return "%s events not logged (too many at once)" % a
    if event == "factory-reset":
        return "factory reset: everything erased"
    if event == "log-config":
        return "account names in the log turned %s" % ("on" if a else "off")
    return "%s %s %s %s %s" % (event, a, b, c, text)


def _rows(entries, now):
    return [(e[0], when(e, now), describe(e)) for e in entries]


def _confirm(question, yes):
    if yes:
        return
    if sys.stdin is None or not sys.stdin.isatty():
        raise CommandError("this deletes the token's log; add --yes to confirm",
                           "confirm_required", EXIT_USAGE)
    try:
        answer = input(question + " [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError("cancelled: the log is unchanged", "cancelled", EXIT_USAGE)


def run_log(args, connect, sleep=time.sleep, clock=time.time):
    if args.clear and args.follow:
        raise CommandError("--clear and --follow don't go together", "usage", EXIT_USAGE)
    if args.clear:
        # Ask before opening the port: a question must not hold the token.
        _confirm("Delete every entry of the token's diagnostic log?", args.yes)
        with connect() as client:
            data = client.request("log-clear", confirm="log-clear")
        return data, "log cleared"
    with connect() as client:
        if args.names:
            client.request("log-config", names=args.names == "on")
        entries, stats = fetch(client)
        if args.follow:
            return _follow(args, client, entries, sleep, clock)
    now = clock()
    data = dict(stats, entries=[as_dict(e) for e in entries])
    lines = table(("seq", "when", "event"), _rows(entries, now)) if entries else ["log is empty"]
    if stats.get("failures"):
        lines.append("(%s writes of the log failed on the token)" % stats["failures"])
    if args.names:
        lines.append("account names in the log: %s" % args.names)
    return data, "\n".join(lines)


def _follow(args, client, entries, sleep, clock):
    shown = 0

    def show(batch):
        for e in batch:
            if args.json:
                print(json.dumps(as_dict(e)), flush=True)
            else:
                print("%6d  %-16s %s" % (e[0], when(e, clock()), describe(e)), flush=True)

    show(entries)
    shown += len(entries)
    last = entries[-1][0] if entries else 0
    try:
        while True:
            sleep(FOLLOW_POLL_S)
            batch, _ = fetch(client, after=last)
            show(batch)
            shown += len(batch)
            if batch:
                last = batch[-1][0]
    except KeyboardInterrupt:
        pass  # the way to stop following: not an error
    return {"followed": shown, "last": last}, "(stopped following after %d entries)" % shown


# ---- data ----

def data_arguments(p):
    p.add_argument("--backup", metavar="PATH",
                   help="the backup to look for (default: $TOKEN_BACKUP, else the usual place)")
    p.add_argument("--host-only", action="store_true",
                   help="only this computer's files: no token needed")


def _token_files(client):
    files = []
    start = 0
    while True:
        reply = client.request("files", start=start)
        files.extend(reply["files"])
        start += len(reply["files"])
        if start >= reply["total"] or not reply["files"]:
            return reply, files


def run_data(args, connect):
    data = {}
    lines = []
    if not args.host_only:
        with connect() as client:
            reply, files = _token_files(client)
        rows = inventory.describe_token(files)
        data["token"] = {"dir": reply["dir"], "storage": reply["storage"], "files": rows}
        total = sum(r["size"] for r in rows)
        lines.append("On the token (%s: %d files, %d bytes; flash %d of %d bytes free):"
                     % (reply["dir"], len(rows), total, reply["storage"]["free"],
                        reply["storage"]["total"]))
        lines += _grouped(rows)
        lines.append("  Everything at once: " + inventory.TOKEN_ALL + ".")
    host = inventory.describe_host(args.backup)
    data["host"] = host
    lines.append("On this computer:")
    for item in host:
        where = ", ".join("%s (%d bytes)" % (p["path"], p["size"]) for p in item["paths"])
        lines += ["  %s: %s" % (item["name"], where or "none"),
                  "      holds: " + item["holds"],
                  "      encrypted: " + item["encrypted"],
                  "      delete: " + item["delete"]]
    return data, "\n".join(lines)


def _grouped(rows):
    """Files of one kind (the buckets) together: name, count, bytes, then
    what they hold."""
    groups = []
    for r in rows:
        key = (r["holds"], r["encrypted"], r["delete"])
        for g in groups:
            if g[0] == key:
                g[1].append(r)
                break
        else:
            groups.append((key, [r]))
    lines = []
    for (holds, encrypted, delete), members in groups:
        names = ", ".join(r["file"] for r in members[:4]) + (", ..." if len(members) > 4 else "")
        lines += ["  %s: %d file%s, %d bytes" % (names, len(members),
                                                 "" if len(members) == 1 else "s",
                                                 sum(r["size"] for r in members)),
                  "      holds: " + holds,
                  "      encrypted: " + encrypted,
                  "      delete: " + delete]
    return lines
