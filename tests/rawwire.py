"""The protocol spoken by hand over the serial port, as an old host or a
listener on the cable sees it: one request line out, the reply line back."""
from firmware.protocol import frames


def request(port, req_id, cmd, **args):
    """Send one unsigned request on the open serial `port`; its reply."""
    port.write(frames.encode_request(req_id, cmd, args))
    while True:
        reply = frames.decode_reply(port.readline())
        if reply is not None:
            return reply
