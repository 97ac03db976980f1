"""host_tools/privacyidea.py against a stand-in server on 127.0.0.1 (issue
18): what a real privacyIDEA rarely does (HTML, a redirect, a 500, a
silence, a key of its own) gives a clear error that holds no secret; what
is sent is what privacyIDEA reads. The real server's answers are in
tests/sim/test_privacyidea.py."""
import base64
import email.parser
import json
import os
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from host_tools.errors import EXIT_DEVICE, EXIT_REFUSED, EXIT_USAGE, ServerError, UsageError
from host_tools.privacyidea import PrivacyIDEA, check_url

TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJyb2xlIjoiYWRtaW4ifQ.c2VjcmV0LXNpZ25hdHVyZQ"
KEY = bytes(range(1, 21))
KEY_HEX = KEY.hex()
KEY_B32 = base64.b32encode(KEY).decode()
CLIENT_TIMEOUT_S = 0.5  # the stand-in that never answers is given this long


def ok(value, detail=None, status=200):
    return status, "application/json", json.dumps(
        {"result": {"status": True, "value": value}, "detail": detail}).encode()


def refused(status, message):
    return status, "application/json", json.dumps(
        {"result": {"status": False, "error": {"code": 1, "message": message}},
         "detail": None}).encode()


class Stub:
    """A stand-in server: answers[path] (the path without its query) is a
    (status, content type, body) or a callable giving one; every request
    is kept in .seen as (method, path with query, headers, body)."""

    def __init__(self):
        self.answers, self.seen, self.release = {}, [], threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.seen.append((self.command, self.path, dict(self.headers), body))
                answer = stub.answers.get(urllib.parse.urlsplit(self.path).path,
                                          (404, "text/html", b"<h1>no</h1>"))
                if callable(answer):
                    answer = answer(self)
                if answer is None:
                    return
                status, ctype, payload = answer
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def form(self, i=-1):
        return dict(urllib.parse.parse_qsl(self.seen[i][3].decode()))


@pytest.fixture
def stub():
    s = Stub()
    yield s
    s.close()


@pytest.fixture
def client(stub):
    return PrivacyIDEA(stub.url, token=TOKEN, timeout=CLIENT_TIMEOUT_S)


def no_secret_in(error):
    text = str(error) + repr(error.args)
    for secret in (TOKEN, TOKEN.split(".")[2], KEY_HEX, KEY_HEX.upper(), KEY_B32[:16]):
        assert secret not in text, text


@pytest.mark.parametrize("url,base", [
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("http://localhost:5000/", "http://localhost:5000"),
    ("http://[::1]:8080/pi/", "http://[::1]:8080/pi"),
    ("http://127.1.2.3", "http://127.1.2.3"),
    ("https://mfa.example.org/", "https://mfa.example.org"),
    ("https://10.0.0.5:8443/privacyidea", "https://10.0.0.5:8443/privacyidea"),
])
def test_loopback_http_and_any_https_are_taken(url, base):
    assert check_url(url) == base


@pytest.mark.parametrize("url,why", [
    ("http://mfa.example.org", "in clear"),
    ("http://10.0.0.5:5000", "in clear"),
    ("http://192.168.1.2", "in clear"),
    ("ftp://127.0.0.1", "must be https://"),
    ("mfa.example.org", "must be https://"),
    ("https://admin:pw@mfa.example.org", "no credentials"),
    ("https://mfa.example.org/?token=x", "no ?query"),
    ("https://", "must be https://"),
])
def test_other_urls_are_refused_clearly(url, why):
    with pytest.raises(UsageError) as e:
        check_url(url)
    assert why in e.value.message and e.value.code == "bad_url"
    assert e.value.exit_code == EXIT_USAGE
    assert "admin:pw" not in e.value.message


def test_the_admin_token_comes_from_the_environment_and_is_never_shown(monkeypatch, stub):
    monkeypatch.delenv("PRIVACYIDEA_TOKEN", raising=False)
    with pytest.raises(UsageError) as e:
        PrivacyIDEA(stub.url)
    assert e.value.code == "no_admin_token" and "$PRIVACYIDEA_TOKEN" in e.value.message
    monkeypatch.setenv("PRIVACYIDEA_TOKEN", TOKEN + "\n")
    c = PrivacyIDEA(stub.url)
    assert TOKEN not in repr(c) and TOKEN not in str(vars(c).get("url"))
    stub.answers["/token/"] = ok({"count": 0, "tokens": []})
    assert c.token("T1") is None
    method, path, headers, _ = stub.seen[-1]
    assert (method, path, headers["Authorization"]) == ("GET", "/token/?serial=T1", TOKEN)


def test_enrol_sends_the_key_as_hex_with_genkey_0_and_checks_the_echo(client, stub):
    stub.answers["/token/"] = ok({"count": 0, "tokens": []})
    stub.answers["/token/init"] = ok(True, {"serial": "T1", "rollout_state": "enrolled",
                                            "otpkey": {"value": "seed://" + KEY_HEX}})
    assert client.enrol("T1", KEY, digits=8, period=60, algorithm="SHA256", user="alice",
                        realm="team", description="Alice's token") == "T1"
    assert stub.form() == {"type": "totp", "serial": "T1", "otpkey": KEY_HEX, "genkey": "0",
                           "otplen": "8", "hashlib": "sha256", "timeStep": "60",
                           "user": "alice", "realm": "team", "description": "Alice's token"}
    assert stub.seen[-1][2]["Authorization"] == TOKEN
    stub.answers["/token/init"] = ok(True, {"serial": "T2", "otpkey": {"value": "seed://" + KEY_HEX}})
    client.enrol("T2", KEY, kind="hotp")
    assert stub.form()["type"] == "hotp" and "timeStep" not in stub.form()


def test_a_key_the_server_made_itself_is_an_error(client, stub):
    stub.answers["/token/"] = ok({"count": 0, "tokens": []})
    stub.answers["/token/init"] = ok(True, {"serial": "T1", "rollout_state": "enrolled",
                                            "otpkey": {"value": "seed://" + "ab" * 20}})
    with pytest.raises(ServerError) as e:
        client.enrol("T1", KEY)
    assert e.value.code == "key_not_taken" and "force_server_generate" in e.value.message
    no_secret_in(e.value)
    stub.answers["/token/init"] = ok(True, {"serial": "T1", "rollout_state": "verify",
                                            "otpkey": {"value": "seed://" + KEY_HEX}})
    with pytest.raises(ServerError) as e:
        client.enrol("T1", KEY)
    assert e.value.code == "not_enrolled" and "'verify'" in e.value.message


def test_an_existing_serial_is_not_enrolled_over(client, stub):
    stub.answers["/token/"] = ok({"count": 1, "tokens": [{"serial": "T1"}]})
    with pytest.raises(ServerError) as e:
        client.enrol("T1", KEY)
    assert e.value.code == "serial_exists" and e.value.exit_code == EXIT_REFUSED
    assert [s[0] for s in stub.seen] == ["GET"]  # nothing posted


@pytest.mark.parametrize("args,why", [
    (dict(kind="steam"), "totp/hotp"),
    (dict(digits=5), "digits must be 6 to 8"),
    (dict(digits=9), "digits must be 6 to 8"),
    (dict(algorithm="MD5"), "algorithm must be"),
    (dict(period=0), "period must be"),
    (dict(kind="hotp", counter=5), "counter 0"),
    (dict(realm="team"), "give the user too"),
])
def test_bad_enrol_arguments_are_refused_before_sending(client, stub, args, why):
    with pytest.raises(UsageError) as e:
        client.enrol("T1", KEY, **args)
    assert why in e.value.message and stub.seen == []


@pytest.mark.parametrize("serial", ["", "has space", "a/b", "x" * 41, "é"])
def test_a_bad_serial_or_key_is_refused_before_sending(client, stub, serial):
    with pytest.raises(UsageError):
        client.enrol(serial, KEY)
    with pytest.raises(UsageError):
        client.enrol("T1", b"" if serial else bytes(65))
    assert stub.seen == []


def test_load_file_posts_multipart_and_zero_imported_is_an_error(client, stub, tmp_path):
    path = tmp_path / "fleet.pskcxml"
    path.write_bytes(b"<KeyContainer/>")
    stub.answers["/token/load/fleet.pskcxml"] = ok({"n_imported": 3, "n_not_imported": 0})
    psk = os.urandom(16)
    assert client.load_file(str(path), "pskc", psk=psk, realms=("team",)) == 3
    method, target, headers, body = stub.seen[-1]
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body)
    parts = {p.get_param("name", header="content-disposition"): p for p in message.get_payload()}
    assert {n: p.get_payload(decode=True) for n, p in parts.items()} == {
        "type": b"pskc", "psk": psk.hex().encode(), "tokenrealms": b"team",
        "file": b"<KeyContainer/>"}
    assert parts["file"].get_filename() == "fleet.pskcxml"
    # privacyIDEA's answer to a PSKC whose MAC fails: HTTP 200, n_imported 0.
    stub.answers["/token/load/fleet.pskcxml"] = ok({"n_imported": 0, "n_not_imported": 3})
    with pytest.raises(ServerError) as e:
        client.load_file(str(path), "pskc", password="correct horse")
    assert e.value.code == "nothing_imported" and "MAC" in e.value.message
    assert "correct horse" not in str(e.value)


@pytest.mark.parametrize("kind,secret,why", [
    ("pskc", dict(psk="abcd"), "16 bytes"),
    ("pskc", dict(psk=bytes(15)), "16 bytes"),
    ("pskc", dict(psk="zz" * 16), "16 bytes"),
    ("oathcsv", dict(password="pw"), "PSKC file only"),
    ("yubikeycsv", {}, "pskc/oathcsv"),
])
def test_bad_load_arguments_are_refused_before_sending(client, stub, tmp_path, kind, secret, why):
    path = tmp_path / "t.csv"
    path.write_text("T1, %s, totp, 6, 30\n" % KEY_HEX)
    with pytest.raises(UsageError) as e:
        client.load_file(str(path), kind, **secret)
    assert why in e.value.message and stub.seen == []
    with pytest.raises(UsageError) as e:
        client.load_file(str(tmp_path / "missing.csv"), "oathcsv")
    assert "cannot read" in e.value.message


def test_validate_sends_no_admin_token(client, stub):
    stub.answers["/validate/check"] = ok(False, {"message": "wrong otp value"})
    check = client.validate("T1", "123456")
    assert (check.accepted, check.message) == (False, "wrong otp value")
    assert "Authorization" not in stub.seen[-1][2]
    assert stub.form() == {"serial": "T1", "pass": "123456"}


def test_errors_say_what_happened_and_hide_what_the_server_echoes(client, stub):
    stub.answers["/token/"] = ok({"count": 0, "tokens": []})
    stub.answers["/token/init"] = refused(500, "db failed on otpkey=%s b32=%s auth=%s"
                                          % (KEY_HEX.upper(), KEY_B32, TOKEN))
    with pytest.raises(ServerError) as e:
        client.enrol("T1", KEY)
    assert e.value.code == "server_error" and e.value.exit_code == EXIT_DEVICE
    assert e.value.status == 500 and "db failed on otpkey=[hidden]" in e.value.message
    no_secret_in(e.value)
    stub.answers["/token/init"] = refused(401, "Authentication failure: %s" % TOKEN)
    with pytest.raises(ServerError) as e:
        client.enrol("T1", KEY)
    assert e.value.code == "server_auth" and e.value.exit_code == EXIT_REFUSED
    no_secret_in(e.value)
    stub.answers["/token/init"] = refused(400, "ERR904: The user can not be found")
    with pytest.raises(ServerError) as e:
        client.enrol("T1", KEY, user="mallory")
    assert e.value.code == "server_refused" and "ERR904" in e.value.message


def test_an_answer_that_is_not_privacyidea_json_is_named(client, stub):
    stub.answers["/token/"] = (200, "text/html", b"<html>a login page</html>")
    with pytest.raises(ServerError) as e:
        client.token("T1")
    assert e.value.code == "server_bad_answer" and e.value.exit_code == EXIT_DEVICE
    assert "no privacyIDEA JSON" in e.value.message and "text/html" in e.value.message
    stub.answers["/token/"] = (200, "application/json", b'{"result": {"status": true}}')
    with pytest.raises(ServerError) as e:
        client.token("T1")
    assert e.value.code == "server_bad_answer"


def test_a_redirect_is_not_followed_with_the_token(client, stub):
    elsewhere = Stub()
    try:
        stub.answers["/token/"] = _redirect_to(elsewhere.url + "/token/")
        with pytest.raises(ServerError) as e:
            client.token("T1")
        assert e.value.code == "server_redirect" and e.value.status == 302
        assert elsewhere.seen == []
        no_secret_in(e.value)
    finally:
        elsewhere.close()


def _redirect_to(location):
    def answer(handler):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return None
    return answer


def test_a_closed_port_and_a_silent_server_are_named(stub):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(ServerError) as e:
        PrivacyIDEA("http://127.0.0.1:%d" % closed, token=TOKEN).token("T1")
    assert e.value.code == "server_unreachable" and e.value.exit_code == EXIT_DEVICE
    assert "connection refused" in e.value.message
    stub.answers["/token/"] = lambda handler: stub.release.wait() and None
    with pytest.raises(ServerError) as e:
        PrivacyIDEA(stub.url, token=TOKEN, timeout=CLIENT_TIMEOUT_S).token("T1")
    assert e.value.code == "server_unreachable" and "no answer in time" in e.value.message
