"""What fits in one request: the size check every request passes before it
is sent, the compact arguments of an `add`, and the split of many accounts
into `add-many` batches. Pure: nothing here sends anything."""
from firmware.protocol import frames
from firmware.rules import ADD_DEFAULTS, ADD_MANY, default_digits
from host_tools.errors import RequestTooLongError


def check_fits(cmd, args):
    """Raise RequestTooLongError if the request can't fit the token's line limit.

    Callers can run this before opening a port. A ten-digit id stands in for
    whatever id the request will get."""
    # Signed as if in a session: the auth member costs its bytes too.
    size = len(frames.encode_signed(frames.signed_part(10**9, cmd, args), 10**9, "0" * 32)) - 1
    if size > frames.MAX_REQUEST:
        raise RequestTooLongError(
            "request is %d bytes, the token reads at most %d per line; shorten the "
            "name or issuer (non-ASCII letters take 6 bytes each on the wire)"
            % (size, frames.MAX_REQUEST))


# What the token assumes for a member an add leaves out (firmware/rules.py ADD_DEFAULTS).
def compact_args(account):
    """An account's `add` arguments without the members the token would
    assume anyway: every byte of a request costs the token time to read
    (on an RP2040 ~0.1 ms: it can only read the USB port a byte at a time)."""
    args = account.to_args()
    for key, value in ADD_DEFAULTS.items():
        if key in args and type(args[key]) is type(value) and args[key] == value:
            del args[key]
    if args.get("digits") == default_digits(args.get("kind", ADD_DEFAULTS["kind"])):
        del args["digits"]
    return args


def batches(accounts, limit=ADD_MANY):
    """Split accounts into add-many requests: at most `limit` each, and each
    fitting one request line (signed, as in a PIN session)."""
    out = []
    batch = []
    args = []  # the batch's compact arguments, each worked out once
    for account in accounts:
        compact = compact_args(account)
        if batch:
            try:
                check_fits("add-many", {"accounts": args + [compact], "show": False})
                fits = len(batch) < limit
            except RequestTooLongError:
                fits = False
            if not fits:
                out.append(batch)
                batch = []
                args = []
        batch.append(account)
        args.append(compact)
    if batch:
        out.append(batch)
    return out
