"""Talking to the token: requests, replies and the errors a host can meet.

The link is injected (anything with write, readline, reset_input and close,
see link.py), so tests drive this module with a fake. Nothing here prints.
"""
import time

from firmware.protocol import frames
from firmware.rules import ADD_DEFAULTS, ADD_MANY, LIST_PAGE, default_digits
from host_tools.errors import EXIT_DEVICE, EXIT_REFUSED, EXIT_USAGE

TIME_SAMPLES = 5  # get-time round trips per offset measurement; the fastest wins
SCRUB_TIMEOUT = 180.0  # s: writing a board's whole free flash
# A new PIN brings a new data key: the token reseals every account before it
# answers (about 30 s for 1000 on an RP2040; `make bench`).
RESEAL_TIMEOUT = 120.0
_RESEALING = ("pin-set", "pin-change")
# An id-null bad_frame/bad_json answers a line the token could not read: ours,
# torn by stray bytes, or a stray line before it. Ours follows within this if
# it was the stray line's; otherwise ours is sent again (once).
RESYNC_GRACE_S = 0.3
_RESYNC = (frames.E_BAD_FRAME, frames.E_BAD_JSON)


class TokenError(Exception):
    """Base of every error this library raises; carries a short machine code
    and the exit code a CLI should use."""
    exit_code = EXIT_DEVICE

    def __init__(self, message, code="error", exit_code=None):
        Exception.__init__(self, message)
        self.message = message
        self.code = code
        if exit_code is not None:
            self.exit_code = exit_code


class NoDeviceError(TokenError):
    def __init__(self, message, code="no_device"):
        TokenError.__init__(self, message, code, EXIT_DEVICE)


class PortBusyError(TokenError):
    """Another program holds the port (a second provision.py, a serial monitor)."""

    def __init__(self, port):
        TokenError.__init__(self, "the port %s is in use by another program" % port,
                            "port_busy", EXIT_DEVICE)


class NotTokenError(TokenError):
    def __init__(self, message, code="not_token"):
        TokenError.__init__(self, message, code, EXIT_DEVICE)


class LinkLostError(TokenError):
    def __init__(self, message, code="link_lost"):
        TokenError.__init__(self, message, code, EXIT_DEVICE)


class DeviceError(TokenError):
    """The token answered and refused; `code` is its named error (name_taken, ...).
    `tries_left` comes with PIN failures."""

    def __init__(self, code, message, tries_left=None):
        TokenError.__init__(self, message, code, EXIT_REFUSED)
        self.tries_left = tries_left


ERASED_MESSAGE = ("the token erased itself after too many wrong PINs: its accounts and "
                  "keys are gone. Set it up again from your backup (provision.py restore)")

# Requests that are part of the PIN exchange itself: never signed, never retried.
_AUTH_COMMANDS = ("auth-challenge", "auth", "pin-set")


def _refusal(reply):
    code = str(reply.get("error") or frames.E_INTERNAL)
    message = str(reply.get("message") or "the token refused the request")
    tries = reply.get("tries_left")
    if code == frames.E_ERASED:
        message = ERASED_MESSAGE
    elif code == frames.E_WRONG_PIN and isinstance(tries, int):
        message = "wrong PIN: %d %s left before the token erases itself" % (
            tries, "try" if tries == 1 else "tries")
    elif code == frames.E_AUTH:
        message += " (give it with $TOKEN_PIN or at the prompt)"
    return DeviceError(code, message, tries if isinstance(tries, int) else None)


class RequestTooLongError(TokenError):
    """A request that would not fit in one frame; caught before sending."""

    def __init__(self, message):
        TokenError.__init__(self, message, frames.E_TOO_LONG, EXIT_USAGE)


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


# What the token assumes for a member an add leaves out (firmware/protocol/service.py).
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


class TokenClient:
    def __init__(self, link, timeout=3.0, pin=None):
        """pin: a callable returning the token's PIN, asked only when the
        token wants it (docs/security.md)."""
        self.link = link
        self.timeout = timeout
        self.pin = pin
        self.on_confirm = None  # fn(cmd): a request now waits for a hold on the token
        self.on_last_try = None  # fn(): the next PIN is the last try; may raise to stop
        self.session = None  # pinauth.Session after a successful auth
        self.erased = False  # the last reply said the token stands erased
        self._last_id = 0
        self._answered = False  # once a reply came, silence is a timeout, not "not a token"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.session is not None:
            try:
                self.logout()  # end the token's session now rather than at its timeout
            except TokenError:
                pass
        self.link.close()

    @property
    def port(self):
        return getattr(self.link, "port", "the port")

    def request(self, cmd, **args):
        """Send one request and return its reply's data; raise DeviceError if
        the token refused. A request the token wants authenticated is
        retried once after the PIN exchange, when a PIN source was given."""
        try:
            return self._request(cmd, args)
        except DeviceError as e:
            if e.code not in (frames.E_AUTH, frames.E_AUTH_FAILED) or self.pin is None \
                    or cmd in _AUTH_COMMANDS:
                raise
        self.authenticate()
        return self._request(cmd, args)

    def authenticate(self):
        """The PIN exchange: a fresh challenge, W sealed under a key from it.
        Returns False when the token has no PIN."""
        from host_tools import pinauth
        self.session = None
        challenge = self._request("auth-challenge", {})
        if not challenge.get("pin"):
            return False
        if challenge.get("tries_left") == 1 and self.on_last_try is not None:
            self.on_last_try()  # may refuse: a wrong PIN now erases the token
        pin = self.pin() if self.pin is not None else None
        if pin is None:
            raise DeviceError(frames.E_AUTH, "the token has a PIN: give it with $TOKEN_PIN "
                              "or at the prompt")
        try:
            args, session = pinauth.answer_challenge(pin, challenge)
        except pinauth.SchemeError as e:
            raise DeviceError("scheme", str(e)) from None
        self._request("auth", args)
        self.session = session
        return True

    def _request(self, cmd, args):
        check_fits(cmd, args)
        resend = True
        self._last_id += 1
        req_id = self._last_id
        self.link.reset_input()  # stale noise or late replies are of no use now
        if self.session is not None and cmd not in _AUTH_COMMANDS:
            frame = self.session.sign(req_id, cmd, args)
        else:
            frame = frames.encode_request(req_id, cmd, args)
        # A resend below sends this same frame: a signed one stays valid,
        # since a torn first copy never reached the token's sequence check.
        timeout = self.timeout
        if cmd in frames.CONFIRMED:
            # The token answers once its button is held (or CONFIRM_S is up).
            timeout = max(timeout, frames.CONFIRM_S + 5.0)
            if self.on_confirm is not None:
                self.on_confirm(cmd)
        if cmd in _RESEALING:
            timeout += RESEAL_TIMEOUT
        self.link.write(frame)
        deadline = time.monotonic() + timeout
        noise = False
        resync = None  # when to resend after an id-null frame error
        while True:
            line = self.link.readline(deadline if resync is None else min(deadline, resync))
            if line is None:
                if resync is None or time.monotonic() >= deadline:
                    raise self._silence(cmd, noise)
                # Our frame reached the token torn (stray bytes ahead of it, a
                # token that can't skip them): send it once more, now.
                resync = None
                self.link.write(frame)
                deadline = time.monotonic() + timeout
                continue
            reply = frames.decode_reply(line)
            if reply is None:
                noise = noise or bool(line.strip())
                continue
            self._answered = True
            if reply.get("id") is None and reply.get("error") in _RESYNC and resend:
                # Maybe a stray line's answer with ours right behind it: wait
                # briefly for ours, so a command is not run twice needlessly.
                resend = False
                resync = time.monotonic() + RESYNC_GRACE_S
                continue
            if reply.get("id") != req_id:
                continue  # a late reply to an earlier request
            # The last reply says whether the token stands erased: a restore
            # onto an erased token ends that state, and then nothing is said.
            self.erased = bool(reply.get("erased"))
            if self.erased:
                # Right after the erase the token overwrites its free flash
                # for a while before it answers again.
                self.timeout = max(self.timeout, SCRUB_TIMEOUT)
            if reply.get("ok"):
                return reply.get("data") or {}
            raise _refusal(reply)

    def _silence(self, cmd, noise):
        if self._answered:
            return NotTokenError("the token on %s did not answer %r within %.1f s"
                                 % (self.port, cmd, self.timeout), "no_answer")
        if noise:
            return NotTokenError(
                "the device on %s answered, but not as token firmware (is it at the "
                "MicroPython REPL? Reset it so main.py runs, or install the firmware)"
                % self.port)
        return NotTokenError("the device on %s did not answer within %.1f s (is the "
                             "token firmware running on it?)" % (self.port, self.timeout),
                             "no_answer")

    def info(self):
        return self.request("info")

    def status(self):
        return self.request("status")

    def add(self, account, show=True):
        """Store an otpauth.Account; returns {index, count}. show=False: the
        token does not redraw its screen for it (the middle of an import)."""
        args = compact_args(account)
        if not show:
            args["show"] = False
        return self.request("add", **args)

    def add_many(self, accounts, show=True):
        """Store several otpauth.Accounts in one request (`add-many`), all or
        none; returns {index, count}. batches() says how many fit one."""
        args = {"accounts": [compact_args(a) for a in accounts]}
        if not show:
            args["show"] = False
        return self.request("add-many", **args)

    def list_accounts(self):
        """Every account (no secrets), fetched page by page."""
        accounts = []
        while True:
            data = self.request("list", start=len(accounts), limit=LIST_PAGE)
            page = data.get("accounts") or []
            accounts.extend(page)
            # An empty page ends it too, so a shrinking list can't loop forever.
            if not page or len(accounts) >= data.get("total", 0):
                return accounts

    def delete(self, name, issuer=None):
        args = {"name": name}
        if issuer is not None:
            args["issuer"] = issuer
        return self.request("delete", **args)

    def rename(self, name, issuer=None, new_name=None, new_issuer=None):
        args = {"name": name}
        if issuer is not None:
            args["issuer"] = issuer
        if new_name is not None:
            args["new_name"] = new_name
        if new_issuer is not None:
            args["new_issuer"] = new_issuer
        return self.request("rename", **args)

    def move(self, name, to, issuer=None):
        """Move an account to 0-based position `to`."""
        args = {"name": name, "to": int(to)}
        if issuer is not None:
            args["issuer"] = issuer
        return self.request("move", **args)

    def sort(self, key=None):
        """Reorder the token by (issuer, name), case-insensitively, with the
        fewest moves. Returns the number of moves made."""
        key = key or (lambda a: (a["issuer"].casefold(), a["name"].casefold()))
        current = self.list_accounts()
        wanted = sorted(current, key=key)
        order = [(a["issuer"], a["name"]) for a in current]
        moves = 0
        for pos, acc in enumerate(wanted):
            label = (acc["issuer"], acc["name"])
            at = order.index(label)
            if at != pos:
                self.move(acc["name"], pos, issuer=acc["issuer"])
                order.insert(pos, order.pop(at))
                moves += 1
        return moves

    def get_time(self):
        return self.request("get-time")

    def set_time(self, unix_ms, offset_ms=None, trim="auto"):
        """offset_ms: what the host measured just before (token - host), kept
        by the token for its drift estimate; trim: "auto" lets the token
        adjust its aging offset when the syncs are a day or more apart."""
        args = {"unix_ms": int(unix_ms), "trim": trim}
        if offset_ms is not None:
            args["offset_ms"] = offset_ms
        return self.request("set-time", **args)

    def calibrate(self):
        return self.request("calibrate")

    def wipe(self, scrub=False):
        """scrub: also overwrite all free flash (old copies of keys and
        records); the token answers only when that is done."""
        if not scrub:
            return self.request("wipe", confirm="wipe")
        saved = self.timeout
        self.timeout = max(saved, SCRUB_TIMEOUT)
        try:
            return self.request("wipe", confirm="wipe", scrub=True)
        finally:
            self.timeout = saved

    # -- the PIN ------------------------------------------------------------

    def pin_set(self, new_pin, tries_max=None):
        """The first PIN (the token has none)."""
        from host_tools import pinauth
        info = self.info()
        self.session = None
        challenge = self._request("auth-challenge", {})
        if challenge.get("pin"):
            raise DeviceError("pin_set", "a PIN is already set: use pin change")
        try:
            args = pinauth.pin_set_args(new_pin, (info.get("auth") or {}).get("iterations"),
                                        challenge)
        except pinauth.SchemeError as e:
            raise DeviceError("scheme", str(e)) from None
        if tries_max is not None:
            args["tries_max"] = int(tries_max)
        self.session = None
        return self.request("pin-set", **args)

    def pin_change(self, new_pin):
        from host_tools import pinauth
        info = self.info()
        if self.session is None:
            self.authenticate()
        args = pinauth.pin_change_args(self.session, new_pin,
                                       (info.get("auth") or {}).get("iterations"))
        data = self.request("pin-change", **args)
        self.session = None  # the token ended it: the old PIN is gone
        return data

    def pin_remove(self):
        data = self.request("pin-remove")
        self.session = None
        return data

    def config(self, **settings):
        return self.request("config", **settings)

    def logout(self):
        if self.session is not None:
            self.session = None
            return self.request("logout")
        return {}

    def reboot_maintenance(self):
        """Restart the token once into its MicroPython REPL (for mpremote)."""
        return self.request("reboot-maintenance")

    def sync_time(self, clock=time.time, samples=TIME_SAMPLES, trim="auto"):
        """Set the token's clock from `clock` (seconds) and report how far off it was.

        The request spends about half the round trip in flight, so the time
        sent is host time plus rtt/2; the token lines it up with its next whole
        second and replies once the RTC holds it."""
        offset_before, rtt_ms = self.clock_offset(clock, samples)
        written = self.set_time(round(clock() * 1000 + rtt_ms / 2), offset_before, trim)
        offset_after, _ = self.clock_offset(clock, samples)
        if offset_after is None:
            raise DeviceError(frames.E_CLOCK_LOST, "the token's clock still reads as lost "
                              "after setting it; check its RTC and backup battery")
        return {"offset_before_ms": offset_before, "offset_after_ms": offset_after,
                "rtt_ms": rtt_ms, "written_ms": written.get("unix_ms"),
                "measured_ppm": written.get("measured_ppm"), "trimmed": written.get("trimmed")}

    def clock_offset(self, clock=time.time, samples=TIME_SAMPLES):
        """(token time - host time, round trip), both ms, from the fastest of
        `samples` get-time exchanges; the offset is None while the token's clock
        is lost."""
        best = None
        for _ in range(samples):
            t_send = clock()
            data = self.get_time()
            t_recv = clock()
            rtt = (t_recv - t_send) * 1000
            if best is None or rtt < best[0]:
                best = (rtt, t_send, t_recv, data)
        rtt, t_send, t_recv, data = best
        if data.get("lost") or data.get("unix_ms") is None:
            return None, round(rtt, 1)
        # The token read its clock, on average, halfway through the exchange.
        offset = data["unix_ms"] - (t_send + t_recv) / 2 * 1000
        return round(offset, 1), round(rtt, 1)
