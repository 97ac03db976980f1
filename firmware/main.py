# Entry point. On a board MicroPython runs this file at boot; `make deploy`
# copies the chosen board file beside it as tokenboard.py. The simulator
# calls start() with its `sim` board.
#
# Maintenance: hold the button while plugging the token in. A screen counts
# down: let go and the firmware does not start, the MicroPython REPL stays on
# the USB serial port (for mpremote); keep holding for the factory reset
# (firmware/factory.py). In normal operation Ctrl-C is ignored, so a stray
# 0x03 can't drop anyone into a REPL.
import time


def start(board):
    import hw
    held = board.make_button() if hasattr(board, "make_button") else hw.make_button(board)
    if held():
        time.sleep_ms(50)
        if held():
            import factory
            if factory.maintenance(board, held) == "repl":
                print("totp-token: button held at boot, maintenance REPL (firmware not started)")
                return
    import app
    app.main(board)


if __name__ == "__main__":
    import tokenboard
    start(tokenboard)
