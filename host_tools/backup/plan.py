"""An import planned against what the token holds, and written.

make_plan() decides, before anything is asked or written, which accounts go
to the token, which are skipped (already there, twice in the import), which
it can't hold, and which clash with a different account under the same
label; write_all() then adds them in order, stopping at the first failure.
"""
import dataclasses
import hmac

from firmware.protocol.frames import E_UNKNOWN_CMD
from host_tools.batching import batches, check_fits
from host_tools.errors import EXIT_DEVICE, DeviceError, RequestTooLongError, TokenError
from host_tools.formats.otpauth import MAX_NAME


class Plan:
    def __init__(self):
        self.write = []     # Accounts to write, in order
        self.skipped = []   # (label, reason): already on the token, or twice in the import
        self.rejected = []  # (label, reason): the token can't hold them
        self.renamed = []   # (label in the file, label it gets)
        self.clashes = []   # (label, reason): same label, different account
        # Accounts the token has that the backup read lacks: the import's
        # copy goes into the backup (the token never gives its own back).
        self.to_backup = []


ALREADY = "already on the token"
OTHER_SECRET = "same name, different secret: kept the token's; --rename to add both"
NO_BACKUP = ("already on the token under this name and settings (no backup to compare "
             "the secret with)")
TO_BACKUP = ("already on the token; the backup lacks it, so it goes there (its secret "
             "can't be compared)")


def _same_secret(account, key, known):
    """Whether the account's secret is the token's, as far as the host knows:
    known is the backup's {(issuer, name): secret} (None: no backup read).
    None when it can't tell. Constant time, as any comparison of secrets."""
    if known is None or key not in known:
        return None
    return hmac.compare_digest(bytes(account.secret), bytes(known[key]))


def _on_token(same, known):
    if same:
        return ALREADY
    return NO_BACKUP if known is None else TO_BACKUP


def _same_settings(account, meta):
    """Whether the token's account (as `list` shows it) is this one. The token
    never shows a secret, so the label and settings are all there is to compare;
    an HOTP counter moves with use, so it is left out."""
    if (account.kind, account.algorithm, account.digits) != \
            (meta.get("kind"), meta.get("algorithm"), meta.get("digits")):
        return False
    return account.kind == "hotp" or account.period == meta.get("period")


def _trim_utf8(text, limit):
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text


def _free_name(account, taken):
    n = 2
    while True:
        suffix = " (%d)" % n
        # The suffix must survive the token's 40-byte name limit: shorten the name instead.
        name = _trim_utf8(account.name, MAX_NAME - len(suffix)).rstrip() + suffix
        if (account.issuer, name) not in taken:
            return name
        n += 1


def _fits(account):
    """None, or why the token can't take the account in one request line."""
    try:
        check_fits("add", account.to_args())
    except RequestTooLongError as e:
        return e.message
    return None


def same_as_token(incoming, on_token):
    """Whether some incoming account has the label and settings of one on the
    token: only then are secrets to compare (make_plan's known)."""
    existing = {(a.get("issuer", ""), a.get("name", "")): a for a in on_token}
    return any(_same_settings(a, existing[(a.issuer, a.name)]) for a in incoming
               if (a.issuer, a.name) in existing)


def make_plan(incoming, on_token, rename_duplicates, known=None):
    """known: {(issuer, name): secret} of the host backup's accounts, the
    token's secrets as far as the host knows them (None: no backup read)."""
    existing = {(a.get("issuer", ""), a.get("name", "")): a for a in on_token}
    taken = set(existing)
    plan = Plan()
    first = {}  # label -> the account that claimed it earlier in this import
    for account in incoming:
        key = (account.issuer, account.name)
        if key in existing:
            if _same_settings(account, existing[key]):
                same = _same_secret(account, key, known)
                if same is None and known is not None and key in first:
                    # The backup gets one copy: the first.
                    plan.skipped.append((account.label, "twice in the import" if
                                         first[key].to_args() == account.to_args() else
                                         "twice in the import, with another secret: "
                                         "the backup gets the first"))
                    continue
                if same is not False:
                    plan.skipped.append((account.label, _on_token(same, known)))
                    if same is None and known is not None:
                        plan.to_backup.append(account)
                        first[key] = account
                    continue
                if not rename_duplicates:
                    # Not a clash that stops the import: the token's account
                    # stays, and the entry says so.
                    plan.skipped.append((account.label, OTHER_SECRET))
                    continue
                why = OTHER_SECRET
            else:
                why = "on the token with other settings"
        elif key in first:
            if first[key].to_args() == account.to_args():
                plan.skipped.append((account.label, "twice in the import"))
                continue
            why = "twice in the import, with another secret or settings"
        else:
            why = None
        if why is not None:
            if not rename_duplicates:
                plan.clashes.append((account.label, why))
                continue
            old = account.label
            account = dataclasses.replace(account, name=_free_name(account, taken))
            key = (account.issuer, account.name)
            plan.renamed.append((old, account.label))
        too_long = _fits(account)
        if too_long:
            plan.rejected.append((account.label, too_long))
            continue
        taken.add(key)
        first[key] = account
        plan.write.append(account)
    return plan


def pairs(items):
    return [{"label": label, "reason": reason} for label, reason in items]


def report(plan, written=(), not_written=()):
    return {"to_write": [a.label for a in plan.write],
            "to_backup": [a.label for a in plan.to_backup],
            "written": [a.label for a in written],
            "not_written": [a.label for a in not_written],
            "skipped": pairs(plan.skipped), "rejected": pairs(plan.rejected),
            "renamed": [{"from": old, "to": new} for old, new in plan.renamed]}


def write_all(client, accounts, progress):
    """Add the accounts in order, stopping at the first failure; returns
    (written, not written, the error or None, how many of the not written
    may have landed all the same). Ctrl-C stops it the same way, so what
    reached the token still gets into the backup.

    Several accounts go in each request (add-many, all or none): the token
    writes each flash bucket once for them and the host waits one round
    trip. A token that lacks add-many, or refuses a batch, gets the adds one
    by one, which finds the account it refuses."""
    written = []
    many = hasattr(client, "add_many")
    with progress:
        last = len(accounts) - 1
        for batch in (batches(accounts) if many else [[a] for a in accounts]):
            start = len(written)
            # The token redraws only for the last one: a bulk write is
            # not 1000 screen redraws.
            show = start + len(batch) - 1 == last
            if many and len(batch) > 1:
                try:
                    client.add_many(batch, show=show)
                except DeviceError as e:
                    if e.code == E_UNKNOWN_CMD:
                        many = False  # older firmware: one by one from here
                except (TokenError, KeyboardInterrupt) as e:
                    return written, accounts[start:], e, len(batch)
                else:
                    written.extend(batch)
                    progress.step(len(batch))
                    continue
            for i, account in enumerate(batch):
                try:
                    client.add(account, show=show and i == len(batch) - 1)
                except (TokenError, KeyboardInterrupt) as e:
                    return written, accounts[len(written):], e, 1
                written.append(account)
                progress.step()
    return written, [], None, 0


def uncertain(error):
    """Whether the add that failed may still have landed: the link went (or
    Ctrl-C came) before its reply, which says nothing about the write."""
    return isinstance(error, KeyboardInterrupt) or error.exit_code == EXIT_DEVICE
