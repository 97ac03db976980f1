# The keyboard settings (`provision.py config --layout ...`): the host's
# keyboard layout, digits on the keypad or the top row, Enter after the code,
# the pause between reports, and whether the double press types at all (off
# until asked for: it makes every single press wait to see if a second comes).
# A small JSON file in the data directory, replaced in one rename.
import json
import os

import keymap
from rules import MAX_INTERVAL_MS, MIN_INTERVAL_MS
DEFAULTS = {"typing": False, "layout": "us", "keypad": True, "enter": False, "interval_ms": 20}


class KeyboardConfig:
    def __init__(self, path):
        self.path = path
        self.values = dict(DEFAULTS)
        try:
            with open(path) as f:
                saved = json.load(f)
            for k in DEFAULTS:
                if k in saved and self._valid(k, saved[k]):
                    self.values[k] = saved[k]
        except (OSError, ValueError):
            pass  # none yet, or unreadable: the defaults

    @staticmethod
    def _valid(key, value):
        if key == "layout":
            return value in keymap.LAYOUTS
        if key == "interval_ms":
            return type(value) is int and MIN_INTERVAL_MS <= value <= MAX_INTERVAL_MS
        return value is True or value is False

    def update(self, changes):
        """changes: {key: value} already checked by the caller (check())."""
        self.values.update(changes)
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            json.dump(self.values, f)
        os.rename(tmp, self.path)

    def check(self, key, value):
        """None when `value` suits `key`, else what is wrong."""
        if self._valid(key, value):
            return None
        if key == "layout":
            return "'layout' is one of " + ", ".join(keymap.LAYOUTS)
        if key == "interval_ms":
            return "'interval_ms' is %d..%d" % (MIN_INTERVAL_MS, MAX_INTERVAL_MS)
        return "'%s' must be true or false" % key

    def __getitem__(self, key):
        return self.values[key]
