"""The PIN session from the host's side: which requests are signed, when a
refusal is worth the PIN exchange, the exchange itself, and setting,
changing or removing the PIN.

The cryptography is pinauth.py's. The requests go through the TokenClient
handed in, which keeps the session (client.session) and signs with it;
nothing here touches the link.
"""
from firmware.protocol import frames
from host_tools import pinauth
from host_tools.errors import DeviceError

# Requests that are part of the PIN exchange itself: never signed, never retried.
AUTH_COMMANDS = ("auth-challenge", "auth", "pin-set")


def signs(client, cmd):
    """Whether `cmd` goes out signed: in a session, unless it opens one."""
    return client.session is not None and cmd not in AUTH_COMMANDS


def retry_with_pin(client, cmd, error):
    """Whether a refused request is worth the PIN exchange and one retry."""
    return (error.code in (frames.E_AUTH, frames.E_AUTH_FAILED) and client.pin is not None
            and cmd not in AUTH_COMMANDS)


def authenticate(client):
    """The PIN exchange: a fresh challenge, W sealed under a key from it.
    Returns False when the token has no PIN."""
    client.session = None
    challenge = client.request("auth-challenge")
    if not challenge.get("pin"):
        return False
    if challenge.get("tries_left") == 1 and client.on_last_try is not None:
        client.on_last_try()  # may refuse: a wrong PIN now erases the token
    pin = client.pin() if client.pin is not None else None
    if pin is None:
        raise DeviceError(frames.E_AUTH, "the token has a PIN: give it with $TOKEN_PIN "
                          "or at the prompt")
    try:
        args, session = pinauth.answer_challenge(pin, challenge)
    except pinauth.SchemeError as e:
        raise DeviceError("scheme", str(e)) from None
    client.request("auth", **args)
    client.session = session
    return True


def _iterations(info):
    return (info.get("auth") or {}).get("iterations")


def pin_set(client, new_pin, tries_max=None):
    """The first PIN (the token has none)."""
    info = client.info()
    client.session = None
    challenge = client.request("auth-challenge")
    if challenge.get("pin"):
        raise DeviceError("pin_set", "a PIN is already set: use pin change")
    try:
        args = pinauth.pin_set_args(new_pin, _iterations(info), challenge)
    except pinauth.SchemeError as e:
        raise DeviceError("scheme", str(e)) from None
    if tries_max is not None:
        args["tries_max"] = int(tries_max)
    return client.request("pin-set", **args)


def pin_change(client, new_pin):
    info = client.info()
    if client.session is None:
        authenticate(client)
    args = pinauth.pin_change_args(client.session, new_pin, _iterations(info))
    data = client.request("pin-change", **args)
    client.session = None  # the token ended it: the old PIN is gone
    return data


def pin_remove(client):
    data = client.request("pin-remove")
    client.session = None
    return data


def logout(client):
    if client.session is not None:
        client.session = None
        return client.request("logout")
    return {}
