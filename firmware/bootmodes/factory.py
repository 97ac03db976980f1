# The maintenance screen at power-up, and the factory reset that needs no
# computer (for a lost PIN or a lost computer).
#
# Hold the button while plugging in:
#   release within RESET_HOLD_S  -> the MicroPython REPL (for mpremote), as before
#   keep holding RESET_HOLD_S    -> "FACTORY RESET" screen: release, then press
#                                   within RESET_CONFIRM_S to erase; otherwise
#                                   the token starts normally, nothing erased
# Erasing: the key area's two pages are erased first (keypages.py: every key
# gone at once, so nothing left on the flash opens); then every file of the
# data directory (accounts, settings, the log, the clock history) is
# overwritten with zeros and removed, the
# directory itself removed and made afresh, then the free space is filled
# with zeros and released again: littlefs never overwrites in place, so old
# copies of a file live on in free blocks until something reuses them; the
# fill reuses them all. A power cut part way leaves a token that can be reset
# again; a half-done fill file is removed at the next boot (erase.leftover()).
# The erasing itself is erase.py's; this module is the screens around it.
import erase
from rules import MAINTENANCE_FLAG  # noqa: F401 (its callers' name for it)
HOLD_S = 10
CONFIRM_S = 10
_DEBOUNCE_MS = 50


def _steady(rt, read, want, ms=_DEBOUNCE_MS):
    """True if read() gives `want` for `ms` (a bounce is not a press)."""
    start = rt.ticks_ms()
    while rt.ticks_diff(rt.ticks_ms(), start) < ms:
        if bool(read()) != want:
            return False
        rt.sleep_ms(5)
    return True


def _wait(rt, read, want, seconds, show=None):
    """Wait up to `seconds` for the button to reach `want` steadily; show(s)
    is called with the whole seconds left as they change. True if it did."""
    start = rt.ticks_ms()
    left = -1
    while True:
        gone = rt.ticks_diff(rt.ticks_ms(), start)
        if gone >= seconds * 1000:
            return False
        now_left = seconds - gone // 1000
        if show is not None and now_left != left:
            left = now_left
            show(left)
        if bool(read()) == want and _steady(rt, read, want):
            return True
        rt.sleep_ms(10)


def maintenance(rt, board, read):
    """The button was held at power-up. Returns "repl" (leave the firmware
    off) or "boot" (start it; after an erase if the user confirmed one)."""
    hold = getattr(board, "RESET_HOLD_S", HOLD_S)
    confirm = getattr(board, "RESET_CONFIRM_S", CONFIRM_S)
    try:
        from ui import UI
        data_dir = rt.data_dir
        ui = UI(rt.display(board.DISPLAY_WIDTH, board.DISPLAY_HEIGHT, board.DISPLAY_ADDR))
    except Exception:
        return "repl"  # no screen to confirm on: never erase blind
    import serialno
    serial = serialno.of(rt)
    # The serial number, to match a token with its label (last: a 32-row
    # screen shows four lines, and the countdown's come first).
    sn = ("SN " + serial,) if serial else ()

    def holding(s):
        ui.message(("MAINTENANCE", "Release: REPL", "Hold %d s more:" % s, "FACTORY RESET") + sn)

    if _wait(rt, read, False, hold, holding):
        ui.message(("MAINTENANCE", "USB REPL open.", "Unplug to leave.") + sn)
        return "repl"

    def asking(s):
        ui.message(("FACTORY RESET", "Release, then", "PRESS to ERASE", "all within %d s" % s,
                    "(accounts, PIN,", "settings, log)"))

    asking(confirm)
    _wait(rt, read, False, confirm)  # let go first: the hold itself is no confirmation
    if not _wait(rt, read, True, confirm, asking):
        ui.message(("Cancelled.", "Nothing erased."))
        rt.sleep_ms(1500)
        return "boot"
    ui.message(("ERASING...", "Do not unplug."))
    try:
        pages = rt.key_pages(data_dir)
    except Exception:
        pages = ()  # no key area yet (or unreadable): nothing to erase there
    erase.factory_reset(data_dir, pages)
    ui.message(("ERASED.", "Starting fresh."))
    _wait(rt, read, False, 30)
    return "boot"
