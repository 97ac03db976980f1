# Runs inside MicroPython: answers [module, function, args] JSON lines on stdin
# with {"result": ...} or {"error": "..."}, so CPython tests (and hypothesis)
# can call the real firmware modules cheaply, one process for many calls.
import sys
import json
import binascii


def _dec(v):
    if isinstance(v, dict) and "hex" in v and len(v) == 1:
        return binascii.unhexlify(v["hex"])
    if isinstance(v, list):
        return [_dec(x) for x in v]
    return v


def _enc(v):
    if isinstance(v, (bytes, bytearray)):
        return {"hex": binascii.hexlify(v).decode()}
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    return v


def serve():
    modules = {}
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        try:
            mod_name, fn, args = json.loads(line)
            mod = modules.get(mod_name)
            if mod is None:
                mod = __import__(mod_name)
                modules[mod_name] = mod
            result = getattr(mod, fn)(*_dec(args))
            out = json.dumps({"result": _enc(result)})
        except Exception as e:
            out = json.dumps({"error": "%s: %s" % (type(e).__name__, e)})
        sys.stdout.write(out + "\n")
