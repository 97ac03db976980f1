# Types the code on screen as a USB keyboard (issue: "type the code"). Joins
# the runtime's keyboard (None on boards without native USB), the settings in
# kbdconf.py and the non-blocking typer.py. Only a physical double press
# starts it (screens.py); nothing on the serial protocol can.
from kbdconf import KeyboardConfig

DOUBLE_MS = 350  # a second press within this of the first's release types


class CodeTyper:
    def __init__(self, keyboard, conf_path, ticks_diff):
        self.keyboard = keyboard
        self.conf = KeyboardConfig(conf_path)
        self.typer = None
        if keyboard is not None:  # (the typer and its tables load only where they are used)
            from typer import Typer
            self.typer = Typer(keyboard.send, ticks_diff, self.conf["interval_ms"])

    @property
    def supported(self):
        return self.keyboard is not None

    @property
    def enabled(self):
        return self.keyboard is not None and self.conf["typing"]

    @property
    def double_ms(self):
        """What the button should wait for a second press (0: no waiting)."""
        return DOUBLE_MS if self.enabled else 0

    @property
    def busy(self):
        return self.typer is not None and self.typer.busy

    def start(self, code):
        """Begin typing `code`; False when typing is off or the code can't
        be typed on the configured layout."""
        if not self.enabled:
            return False
        import keymap
        c = self.conf
        mode = keymap.KEYPAD if c["keypad"] else c["layout"]
        return self.typer.start(code, mode, c["enter"], self.keyboard.leds(), c["layout"])

    def step(self, now):
        """From the main loop. Returns True/False once when typing ends
        (typed / the host took nothing), None otherwise."""
        t = self.typer
        if t is None:
            return None
        was = t.busy
        t.step(now)
        if was and not t.busy:
            return bool(t.result)
        return None

    def cancel(self):
        if self.typer is not None:
            self.typer.cancel()

    def summary(self):
        if self.keyboard is None:
            return {"supported": False, "note": "keyboard not supported on this board"}
        d = dict(self.conf.values)
        d["supported"] = True
        return d

    def configure(self, changes):
        self.conf.update(changes)
        if self.typer is not None:
            self.typer.interval_ms = self.conf["interval_ms"]
