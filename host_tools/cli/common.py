"""What every command module shares: prompts, confirmation, and the text
helpers for output (tables, counts, paths). Errors and exit codes are
host_tools.errors'."""
import getpass
import os
import sys

from host_tools import progress
from host_tools.errors import CommandError, UsageError


def stdin_is_tty():
    return sys.stdin is not None and sys.stdin.isatty()


def ask_hidden(prompt):
    try:
        return getpass.getpass(prompt)
    except EOFError:  # Ctrl-D at the prompt
        return ""


def read_line(prompt):
    """A line from the terminal without echo, or one line from a pipe; "" at
    Ctrl-D or without stdin."""
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            progress.before_prompt()
            return getpass.getpass(prompt)
        return (sys.stdin.readline() if sys.stdin is not None else "").strip("\r\n")
    except EOFError:
        return ""


def read_hidden(prompt):
    """A secret from the terminal without echo, or one line from a pipe."""
    text = read_line(prompt).strip("\r\n")
    if not text.strip():
        raise UsageError("nothing read from stdin: give the secret there, or use --secret")
    return text


def env_flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "no", "false")


def display_path(path):
    """path with the home directory as ~, as people write it."""
    home = os.path.expanduser("~")
    if home not in ("", "~", os.sep) and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home):]
    return path


def reason(error):
    # An OSError's str() repeats the errno; its strerror reads better.
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def table(header, rows):
    """Columns padded to their widest cell, header first."""
    widths = [max(len(str(row[i])) for row in (header,) + tuple(rows))
              for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
            for row in (header,) + tuple(rows)]


def step_text(kind, period=None, counter=None):
    return "counter %s" % counter if kind == "hotp" else "%ss" % period


def slots_text(used, capacity):
    if isinstance(capacity, int):
        return "%d of %d slots used, %d free" % (used, capacity, capacity - used)
    return "%d slots used" % used


def confirm(question, cancelled="cancelled: nothing was written"):
    sys.stderr.write("%s [y/N] " % question)
    sys.stderr.flush()
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError(cancelled, "cancelled")


def positions(accounts):
    # People count from 1, as the screen's 3/12; "index" stays 0-based for scripts.
    return [dict(a, position=a["index"] + 1) if isinstance(a.get("index"), int) else a
            for a in accounts]


def account_arguments(p):
    """NAME and --issuer: how every command that acts on one account names it."""
    p.add_argument("name", metavar="NAME", help="account name, or its label issuer:name")
    p.add_argument("--issuer", help="pick the account with this issuer")
