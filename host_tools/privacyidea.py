"""A small privacyIDEA client (issue 18), on the standard library: enrol a
token's account into the organisation's MFA server, load a PSKC or OATH CSV
file into it, and check a code.

The admin token is a privacyIDEA JWT (`POST /auth` as an admin gives one,
see PrivacyIDEA.login; so does `pi-manage api createtoken`), taken from
$PRIVACYIDEA_TOKEN, never from the command line. It goes only into the
Authorization header, only to a loopback http:// URL or an https:// one,
never along a redirect, and into no message, log or repr. The keys, the PSKC
pre-shared key and password sent are scrubbed from every error message too.
"""
import base64
import hmac
import ipaddress
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.client import HTTPException
from typing import NamedTuple

from firmware import rules
from host_tools.errors import EXIT_DEVICE, EXIT_REFUSED, ServerError, UsageError

TOKEN_ENV = "PRIVACYIDEA_TOKEN"
TIMEOUT_S = 30
KINDS = ("totp", "hotp")  # what privacyIDEA's token types and ours share
LOAD_TYPES = ("pskc", "oathcsv")
MAX_SERIAL = 40  # privacyIDEA's token.serial column
_HIDDEN = "[hidden]"
_MAX_SERVER_TEXT = 300  # of a server's error message, in ours


class Check(NamedTuple):
    """What /validate/check said: accepted, and privacyIDEA's reason
    ("matching 1 tokens", "wrong otp value. previous otp used again", ...)."""
    accepted: bool
    message: str


def check_url(url):
    """The server's base URL without a trailing slash, or UsageError: plain
    http only to this computer, https to any host; no credentials, query or
    fragment in it."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("the privacyIDEA URL must be https://HOST[:PORT][/PATH] "
                         "(or http://127.0.0.1:PORT on this computer), not %r" % url, "bad_url")
    if parts.username is not None or parts.password is not None:
        raise UsageError("put no credentials in the privacyIDEA URL: the admin token "
                         "comes from $%s" % TOKEN_ENV, "bad_url")
    if parts.query or parts.fragment:
        raise UsageError("the privacyIDEA URL takes no ?query or #fragment", "bad_url")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError("plain http:// would send the admin token in clear to %s: use "
                         "https://, or http:// only to this computer (127.0.0.1, ::1, "
                         "localhost)" % parts.hostname, "bad_url")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def is_loopback(host):
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the Authorization header on, to
    wherever it points: a redirect is an error instead (HTTPError 30x)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class PrivacyIDEA:
    """One privacyIDEA server, as its admin. `token`: the admin's JWT
    (default $PRIVACYIDEA_TOKEN); `context`: an ssl.SSLContext for https
    (default: the system's CAs, verified)."""

    def __init__(self, url, token=None, *, timeout=TIMEOUT_S, context=None):
        self.url = check_url(url)
        self.timeout = timeout
        token = (os.environ.get(TOKEN_ENV, "") if token is None else token).strip()
        if not token:
            raise UsageError("no privacyIDEA admin token: set $%s (an admin's JWT from "
                             "POST /auth or `pi-manage api createtoken`)" % TOKEN_ENV,
                             "no_admin_token")
        self._token = token
        handlers = [_NoRedirect(), urllib.request.HTTPSHandler(context=context)]
        if is_loopback(urllib.parse.urlsplit(self.url).hostname):
            handlers.append(urllib.request.ProxyHandler({}))  # this computer: never via a proxy
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self):
        return "PrivacyIDEA(%r)" % self.url  # never the token

    @classmethod
    def login(cls, url, username, password, *, timeout=TIMEOUT_S, context=None):
        """Log in as a privacyIDEA admin (POST /auth); the JWT it answers
        becomes this client's admin token."""
        anonymous = cls(url, token="-", timeout=timeout, context=context)
        value, _ = anonymous._call("/auth", {"username": username, "password": password},
                                   hide=(password,), auth=False)
        if not isinstance(value, dict) or not isinstance(value.get("token"), str):
            raise ServerError("privacyIDEA's /auth answer holds no token", "server_bad_answer",
                              EXIT_DEVICE)
        if value.get("role") != "admin":
            raise ServerError("%s is not a privacyIDEA admin (role %r): enrolling and "
                              "loading tokens needs one" % (username, value.get("role")),
                              "server_auth")
        return cls(url, token=value["token"], timeout=timeout, context=context)

    # ---- what the fleet does ----

    def enrol(self, serial, otpkey, *, kind="totp", digits=6, period=30, counter=0,
              algorithm="SHA1", user=None, realm=None, description=None, replace=False):
        """Create token `serial` with our key (POST /token/init, genkey=0,
        the key as hex), assigned to `user` (in `realm`, else the server's
        default realm) when given. A serial the server already has is
        refused unless `replace`: /token/init would quietly give it the new
        key. Returns the serial."""
        _check_serial(serial)
        if kind not in KINDS:
            raise UsageError("privacyIDEA takes %s tokens, not %r" % ("/".join(KINDS), kind))
        low, high = rules.digits_range(kind)
        if not isinstance(digits, int) or not low <= digits <= high:
            raise UsageError("digits must be %d to %d" % (low, high))
        if algorithm not in rules.ALGORITHMS:
            raise UsageError("algorithm must be one of " + "/".join(rules.ALGORITHMS))
        if not isinstance(otpkey, (bytes, bytearray)) or not 0 < len(otpkey) <= rules.MAX_SECRET:
            raise UsageError("the key must be 1 to %d bytes" % rules.MAX_SECRET)
        if kind == "totp" and not (isinstance(period, int)
                                   and rules.MIN_PERIOD <= period <= rules.MAX_PERIOD):
            raise UsageError("period must be %d to %d s" % (rules.MIN_PERIOD, rules.MAX_PERIOD))
        if kind == "hotp" and counter != 0:
            # /token/init has no counter: only an imported file sets one.
            raise UsageError("privacyIDEA enrols an HOTP token at counter 0; load an OATH "
                             "CSV or PSKC file (load_file) to start it at %r" % counter)
        if realm and not user:
            raise UsageError("a realm goes with a user: give the user too")
        if not replace and self.token(serial) is not None:
            raise ServerError("privacyIDEA already has a token %s: enrolling it again would "
                              "replace its key" % serial, "serial_exists")
        key_hex = bytes(otpkey).hex()
        fields = {"type": kind, "serial": serial, "otpkey": key_hex, "genkey": "0",
                  "otplen": str(digits), "hashlib": algorithm.lower()}
        if kind == "totp":
            fields["timeStep"] = str(period)
        for name, value in (("user", user), ("realm", realm), ("description", description)):
            if value:
                fields[name] = value
        hide = (key_hex, base64.b32encode(bytes(otpkey)).decode().rstrip("="))
        value, detail = self._call("/token/init", fields, hide=hide)
        detail = detail if isinstance(detail, dict) else {}
        if value is not True:
            raise ServerError("privacyIDEA did not enrol %s" % serial, "server_refused")
        # The answer repeats the stored key as seed://HEX. A policy
        # (force_server_generate) may have put the server's own key in place
        # of ours: then no code of the token would ever match.
        echoed = (detail.get("otpkey") or {}).get("value")
        if isinstance(echoed, str) and not hmac.compare_digest(echoed, "seed://" + key_hex):
            raise ServerError("privacyIDEA stored a key of its own for %s, not the token's (a "
                              "force_server_generate policy?): its codes would not match; "
                              "delete it on the server" % serial, "key_not_taken")
        state = detail.get("rollout_state", "")
        if state not in ("", "enrolled"):
            raise ServerError("privacyIDEA created %s but left it in rollout state %r (a "
                              "policy wants more steps): it accepts no code yet"
                              % (serial, state), "not_enrolled")
        return detail.get("serial", serial)

    def load_file(self, path, kind, *, psk=None, password=None, realms=()):
        """Import the tokens of a PSKC (RFC 6030) or OATH CSV file (POST
        /token/load/NAME, multipart); returns how many privacyIDEA imported.
        `psk`: the PSKC's AES-128 pre-shared key (16 bytes, or 32 hex
        digits); `password`: its PBKDF2 password. privacyIDEA answers a PSKC
        whose MAC check fails (a wrong key or password, a changed file) with
        HTTP 200 and n_imported 0: a file that imports nothing is an error."""
        if kind not in LOAD_TYPES:
            raise UsageError("the file type must be one of " + "/".join(LOAD_TYPES))
        if (psk is not None or password is not None) and kind != "pskc":
            raise UsageError("a pre-shared key or password goes with a PSKC file only")
        fields = {"type": kind}
        hide = []
        if psk is not None:
            psk_hex = psk.hex() if isinstance(psk, (bytes, bytearray)) else str(psk).strip()
            try:
                ok = len(bytes.fromhex(psk_hex)) == 16
            except ValueError:
                ok = False
            if not ok:
                raise UsageError("the PSKC pre-shared key must be 16 bytes (32 hex digits)")
            fields["psk"] = psk_hex
            hide.append(psk_hex)
        if password is not None:
            fields["password"] = password
            hide.append(password)
        if realms:
            fields["tokenrealms"] = ",".join(realms)
        name = os.path.basename(path)
        try:
            with open(path, "rb") as f:
                content = f.read()
        except OSError as e:
            raise UsageError("cannot read %s: %s" % (path, e.strerror or e)) from None
        body, ctype = _multipart(fields, name, content)
        value, _ = self._call("/token/load/" + urllib.parse.quote(name, safe=""), body=body,
                              content_type=ctype, hide=hide)
        if not isinstance(value, dict) or not isinstance(value.get("n_imported"), int):
            raise ServerError("privacyIDEA's /token/load answer has no n_imported",
                              "server_bad_answer", EXIT_DEVICE)
        if value["n_imported"] == 0:
            why = (" (a wrong pre-shared key or password, or a changed file, fails its MAC "
                   "check)" if kind == "pskc" else "")
            raise ServerError("privacyIDEA imported no token from %s%s" % (name, why),
                              "nothing_imported")
        return value["n_imported"]

    def validate(self, serial, otp):
        """POST /validate/check with serial and pass, as an application
        would: Check(accepted, message). Sends no admin token."""
        value, detail = self._call("/validate/check", {"serial": serial, "pass": otp},
                                   hide=(otp,), auth=False)
        message = detail.get("message", "") if isinstance(detail, dict) else ""
        return Check(value is True, str(message))

    def token(self, serial):
        """The server's record of token `serial` (GET /token/: type, otplen,
        info, username, realms, ...; no key), or None."""
        value, _ = self._call("/token/?" + urllib.parse.urlencode({"serial": serial}),
                              method="GET")
        tokens = value.get("tokens") if isinstance(value, dict) else None
        if not isinstance(tokens, list):
            raise ServerError("privacyIDEA's token list answer has no tokens",
                              "server_bad_answer", EXIT_DEVICE)
        return tokens[0] if tokens else None

    # ---- the wire ----

    def _call(self, path, fields=None, *, body=None, content_type=None, method="POST",
              hide=(), auth=True):
        """(result.value, detail) of one request, or ServerError."""
        hide = tuple(h for h in hide if h) + ((self._token,) if auth else ())
        if fields is not None:
            body = urllib.parse.urlencode(fields).encode()
            content_type = "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", "application/json")
        if auth:
            req.add_header("Authorization", self._token)
        where = "privacyIDEA at %s" % self.url
        try:
            with self._opener.open(req, timeout=self.timeout) as r:
                status, ctype, raw = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            status, ctype = e.code, e.headers.get("Content-Type", "")
            try:
                raw = e.read()
            except (OSError, HTTPException):
                raw = b""
            if 300 <= status < 400:
                raise ServerError("%s redirected %s elsewhere (HTTP %d): give the server's own "
                                  "URL (the admin token never follows a redirect)"
                                  % (where, path.split("?")[0], status), "server_redirect",
                                  EXIT_DEVICE, status) from None
        except urllib.error.URLError as e:
            raise _unreachable(where, e.reason) from None
        except (OSError, HTTPException) as e:
            raise _unreachable(where, e) from None
        return _answer(where, path.split("?")[0], status, ctype, raw, hide)


def _unreachable(where, reason):
    if isinstance(reason, ConnectionRefusedError):
        why = "connection refused (is it running, on that port?)"
    elif isinstance(reason, TimeoutError):
        why = "no answer in time"
    elif isinstance(reason, ssl.SSLCertVerificationError):
        why = "its TLS certificate was not accepted (%s)" % reason.verify_message
    elif isinstance(reason, ssl.SSLError):
        why = "TLS failed (%s)" % (reason.reason or reason)
    elif isinstance(reason, HTTPException):
        why = "the connection broke (%s)" % type(reason).__name__
    elif isinstance(reason, OSError):
        why = reason.strerror or type(reason).__name__
    else:
        why = str(reason)
    return ServerError("cannot reach %s: %s" % (where, why), "server_unreachable", EXIT_DEVICE)


def _answer(where, path, status, ctype, raw, hide):
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    result = doc.get("result") if isinstance(doc, dict) else None
    if not isinstance(result, dict):
        raise ServerError("%s answered %s with HTTP %d and no privacyIDEA JSON (%s): is "
                          "that the server's address?" % (where, path, status, ctype or "no type"),
                          "server_bad_answer", EXIT_DEVICE, status)
    error = result.get("error") if isinstance(result.get("error"), dict) else {}
    said = _scrub(str(error.get("message", "")), hide)
    if status in (401, 403):
        raise ServerError("%s refused the admin credentials for %s (HTTP %d: %s)"
                          % (where, path, status, said or "no reason given"),
                          "server_auth", EXIT_REFUSED, status)
    if status >= 500:
        raise ServerError("%s failed on %s (HTTP %d: %s)" % (where, path, status,
                                                             said or "no reason given"),
                          "server_error", EXIT_DEVICE, status)
    if status >= 400 or result.get("status") is not True:
        raise ServerError("%s refused %s (HTTP %d: %s)" % (where, path, status,
                                                           said or "no reason given"),
                          "server_refused", EXIT_REFUSED, status)
    return result.get("value"), doc.get("detail")


def _scrub(text, hide):
    """A server's words in our message: without any secret it may repeat
    (case-insensitively: hex keys), and not too long."""
    for secret in hide:
        start = text.lower().find(secret.lower())
        while start >= 0:
            text = text[:start] + _HIDDEN + text[start + len(secret):]
            start = text.lower().find(secret.lower(), start + len(_HIDDEN))
    if len(text) > _MAX_SERVER_TEXT:
        text = text[:_MAX_SERVER_TEXT] + "..."
    return text


def _check_serial(serial):
    if not isinstance(serial, str) or not 0 < len(serial) <= MAX_SERIAL or \
            not all(c.isascii() and (c.isalnum() or c in "-_.") for c in serial):
        raise UsageError("a token serial is 1 to %d letters, digits, '-', '_' or '.'"
                         % MAX_SERIAL)


def _multipart(fields, filename, content):
    """(body, content type) of a multipart/form-data request: the fields,
    then the file as `file`."""
    boundary = uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary, name, value)).encode())
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    out.append(("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (boundary, safe_name)).encode())
    out.append(content)
    out.append(("\r\n--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary
