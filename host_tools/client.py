"""Talking to the token: TokenClient sends a request, reads its reply (back
in step after stray bytes) and turns a refusal into a DeviceError; its
methods are the token's commands, one thin wrapper each.

Beside it: the errors in errors.py, the PIN session in pinsession.py, request
sizes and add-many batches in batching.py, the clock in clockmath.py. The
link is injected (anything with write, readline, reset_input and close, see
link.py), so tests drive this module with a fake. Nothing here prints.
"""
import time

from firmware.protocol import frames
from firmware.rules import LIST_PAGE
from host_tools import clockmath, pinsession
from host_tools.batching import check_fits, compact_args
from host_tools.errors import ERASED_MESSAGE, DeviceError, NotTokenError, TokenError

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


class TokenClient:
    def __init__(self, link, timeout=3.0, pin=None):
        """pin: a callable returning the token's PIN, asked only when the
        token wants it (docs/security.md)."""
        self.link = link
        self.timeout = timeout
        self.pin = pin
        self.on_confirm = None  # fn(cmd): a request now waits for a hold on the token
        self.on_last_try = None  # fn(): the next PIN is the last try; may raise to stop
        self.session = None  # pinauth.Session after a successful auth (pinsession.py)
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
            if not pinsession.retry_with_pin(self, cmd, e):
                raise
        self.authenticate()
        return self._request(cmd, args)

    def _request(self, cmd, args):
        check_fits(cmd, args)
        resend = True
        self._last_id += 1
        req_id = self._last_id
        self.link.reset_input()  # stale noise or late replies are of no use now
        if pinsession.signs(self, cmd):
            frame = self.session.sign(req_id, cmd, args)
        else:
            frame = frames.encode_request(req_id, cmd, args)
        # A resend below sends this same frame: a signed one stays valid,
        # since a torn first copy never reached the token's sequence check.
        timeout = self.timeout
        if cmd in frames.CONFIRMED or cmd in frames.TOUCHED:
            # The token answers once its button is pressed (or CONFIRM_S is up).
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
                % self.port, port=self.port)
        return NotTokenError("the device on %s did not answer within %.1f s (is the "
                             "token firmware running on it?)" % (self.port, self.timeout),
                             "no_answer", port=self.port)

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
        none; returns {index, count}. batching.batches() says how many fit one."""
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
        return self.request("delete", **_named(name, issuer))

    def show(self, name, issuer=None):
        """Put the account on the token's screen (nothing secret comes back)."""
        return self.request("show", **_named(name, issuer))

    def code(self, name, issuer=None):
        """The account's current code, once a hand on the token pressed its
        button (frames.TOUCHED); DeviceError not_confirmed without a press."""
        return self.request("code", **_named(name, issuer))

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

    def favourite(self, name, issuer=None, on=True):
        """Make the account a favourite (first on the button), or with
        on=False no longer one; returns {index, favourite, favourites}."""
        args = _named(name, issuer)
        if not on:
            args["on"] = False
        return self.request("favourite", **args)

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

    def config(self, **settings):
        return self.request("config", **settings)

    def reboot_maintenance(self):
        """Restart the token once into its MicroPython REPL (for mpremote)."""
        return self.request("reboot-maintenance")

    # -- the PIN (pinsession.py) -------------------------------------------

    def authenticate(self):
        """The PIN exchange (pinsession.py); False when the token has no PIN."""
        return pinsession.authenticate(self)

    def pin_set(self, new_pin, tries_max=None):
        """The first PIN (the token has none)."""
        return pinsession.pin_set(self, new_pin, tries_max)

    def pin_change(self, new_pin):
        return pinsession.pin_change(self, new_pin)

    def pin_remove(self):
        return pinsession.pin_remove(self)

    def logout(self):
        return pinsession.logout(self)

    # -- the clock (clockmath.py) -------------------------------------------

    def sync_time(self, clock=time.time, samples=clockmath.TIME_SAMPLES, trim="auto"):
        """Set the token's clock from `clock` (seconds); how far off it was."""
        return clockmath.sync_time(self, clock, samples, trim)

    def clock_offset(self, clock=time.time, samples=clockmath.TIME_SAMPLES):
        """(token time - host time, round trip) in ms; None offset: clock lost."""
        return clockmath.clock_offset(self, clock, samples)


def _named(name, issuer):
    args = {"name": name}
    if issuer is not None:
        args["issuer"] = issuer
    return args
