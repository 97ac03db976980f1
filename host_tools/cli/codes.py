"""`show` and `code`: an account on the token's screen, and its code on the
computer after a press on the token. Nothing secret crosses USB: the token
sends the code only when a hand on it presses its button (frames.TOUCHED),
so a program on the computer can never read codes by itself."""
from host_tools import clipboard
from host_tools.cli.common import account_arguments
from host_tools.errors import EXIT_REFUSED, CommandError, UsageError


def show_arguments(p):
    p.description += ("\n\nWith config --private-list on, it needs the PIN, like list.")
    account_arguments(p)


def code_arguments(p):
    p.description += ("\n\nThe token shows the account and waits up to 15 s for a press on its\n"
                      "button; then it sends the code for now (an HOTP account: the next\n"
                      "code, its counter moved on first). No press, no code. The token must\n"
                      "be unlocked on its own screen when it has a PIN.")
    account_arguments(p)
    p.add_argument("--copy", action="store_true",
                   help="put the code on the clipboard instead of printing it")


def _name(args):
    if not args.name.strip():
        raise UsageError("NAME is empty")
    return args.name


def _label(reply):
    return "%s:%s" % (reply["issuer"], reply["name"]) if reply.get("issuer") else reply["name"]


def run_show(args, connect):
    name = _name(args)
    with connect() as client:
        reply = client.show(name, issuer=args.issuer)
    index, count = reply["index"], reply["count"]
    data = dict(reply, position=index + 1)
    text = "on the token's screen: %d/%d" % (index + 1, count)
    if reply.get("locked"):
        text += " (once the PIN is entered on the token)"
    return data, text


def run_code(args, connect):
    name = _name(args)
    copier = None
    if args.copy:
        try:
            copier = clipboard.find()  # before the press: a code is never fetched to be lost
        except clipboard.NoClipboard as e:
            raise CommandError(str(e), "no_clipboard", EXIT_REFUSED) from None
    with connect() as client:
        reply = client.code(name, issuer=args.issuer)
    code = reply["code"]
    data = {k: reply[k] for k in ("code", "index", "name", "issuer", "kind", "remaining",
                                  "period", "counter") if k in reply}
    data["position"] = reply["index"] + 1
    label = _label(reply)
    if "remaining" in reply:
        valid = "valid %d more s" % reply["remaining"]
    else:
        valid = "HOTP counter %s" % reply.get("counter")
    if copier is not None:
        try:
            clipboard.copy(copier, code)
        except clipboard.NoClipboard as e:
            raise CommandError(str(e), "no_clipboard", EXIT_REFUSED, data) from None
        data["copied"] = True
        del data["code"]  # copied, not shown: it stays off the terminal and the --json output
        return data, "%s: copied to the clipboard (%s)" % (label, valid)
    return data, "%s  %s (%s)" % (code, label, valid)
