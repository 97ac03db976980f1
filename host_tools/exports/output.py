"""What every export writer shares: the file itself (written whole or not
at all, mode 0600: privatefile.py), the consent a plaintext file needs,
and the fields a CSV line may hold."""
from host_tools.errors import ExportError
from host_tools.privatefile import write_private

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@")


def save(path, data, overwrite=False):
    try:
        write_private(path, data, overwrite)
    except FileExistsError:
        raise ExportError("%s exists: nothing written (choose another name, or overwrite it)"
                          % path, "exists") from None
    except OSError as e:
        raise ExportError("cannot write %s: %s; nothing written" % (path, e.strerror or e),
                          "cannot_write") from None


def summary(fmt, path, records, protection, data):
    """What a writer returns: never a secret."""
    return {"format": fmt, "path": path, "records": len(records), "protection": protection,
            "bytes": len(data)}


def write_plaintext(path, records, build, fmt, what, plaintext, overwrite):
    """A CSV writer's whole job: the consent, every record checked and the
    file built (build(records) -> bytes), then saved."""
    require_plaintext(plaintext, what)
    records = list(records)
    data = build(records)
    save(path, data, overwrite)
    return summary(fmt, path, records, "plaintext", data)


def require_plaintext(plaintext, what):
    """The caller must say, in so many words, that the secrets may go to the
    disk in the clear (the CLI's --plaintext)."""
    if plaintext is not True:
        raise ExportError("%s holds every secret in the clear: it is written only with the "
                          "plaintext consent (--plaintext); nothing written" % what,
                          "plaintext_refused")


def csv_problem(value, what):
    """Why `value` can't be a field of our CSV lines (written unquoted, as
    the servers' importers split them), or None."""
    if any(c in value for c in ',"\r\n'):
        return "%s holds a comma, a quote or a line break" % what
    if value.startswith(FORMULA_START):
        return "%s starts with %r, which a spreadsheet runs as a formula" % (what, value[0])
    return None
