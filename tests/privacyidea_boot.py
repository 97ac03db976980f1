"""privacyIDEA's side of tests/privacyidea_server.py, run by the interpreter
of .venv-privacyidea (never the project's: nothing of privacyIDEA is in
.venv). $PRIVACYIDEA_CONFIGFILE names the pi.cfg.

  setup   pi-manage's own commands, a JSON list of argument lists on stdin,
          in one process and on one app: privacyIDEA imports and builds its
          app once instead of once per command (3 s of CPU instead of 14 for
          five pi-manage runs).
  serve PORT_FILE OWNER_PID
          the privacyIDEA app under werkzeug's WSGI server on 127.0.0.1 at a
          free port; the port goes to PORT_FILE once the socket listens; then
          it serves until stopped, or until process OWNER_PID (the pytest
          run) is gone: a run that crashed or was interrupted leaves no
          server behind.
"""
import json
import os
import sys
import threading
import time

OWNER_POLL_S = 1


def setup():
    from flask.cli import ScriptInfo

    from privacyidea.cli import create_silent_app
    from privacyidea.cli.pimanage.main import cli
    app = ScriptInfo(create_app=create_silent_app)  # builds the app once, then keeps it
    for args in json.load(sys.stdin):
        try:
            cli.main(args, prog_name="pi-manage", obj=app, standalone_mode=False)
        except SystemExit as e:  # click's ctx.exit(n) for a refused command
            if e.code:
                sys.exit("pi-manage %s failed (%s)" % (" ".join(args[:2]), e.code))


def _exit_with(owner):
    while True:
        time.sleep(OWNER_POLL_S)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)


def serve(port_file, owner):
    from werkzeug.serving import make_server

    from privacyidea.app import create_app
    app = create_app(config_name="production", silent=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.port))
    os.replace(port_file + ".tmp", port_file)  # whole or not at all
    threading.Thread(target=_exit_with, args=(owner,), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1:] == ["setup"]:
        setup()
    elif sys.argv[1:2] == ["serve"] and len(sys.argv) == 4:
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: privacyidea_boot.py setup < steps.json | serve PORT_FILE OWNER_PID")
