# Drives firmware classes from plain data, so the same cases run under
# CPython and (through tests/mp/worker.py) inside MicroPython.
import button
import frames
import timeutil
from clock import Clock


def button_run(samples, debounce_ms=button.DEBOUNCE_MS, long_ms=button.LONG_MS, double_ms=0):
    """samples: [[t_ms, pressed], ...] -> [[t_ms, event], ...] for events."""
    b = button.Button(debounce_ms, long_ms, double_ms=double_ms)
    out = []
    for t, pressed in samples:
        ev = b.update(bool(pressed), t)
        if ev:
            out.append([t, ev])
    return out


def reader_run(data, limit=frames.MAX_REQUEST):
    """Feed bytes to a LineReader; lines come back, overflows as None."""
    r = frames.LineReader(limit)
    out = []
    for b in data:
        line = r.feed(b)
        if line is frames.OVERFLOW:
            out.append(None)
        elif line is not None:
            out.append(line)
    return out


def reader_chunks(data, limit, size):
    """As reader_run, through feed_from in chunks of `size` bytes, each
    copied into one reused buffer (as the serial loop does)."""
    r = frames.LineReader(limit)
    buf = bytearray(size)
    out = []
    for at in range(0, len(data), size):
        n = min(size, len(data) - at)
        buf[:n] = data[at:at + n]
        for line in r.feed_from(buf, n):
            out.append(None if line is frames.OVERFLOW else line)
    return out


def decode_request(line):
    """[id, cmd, args] or ["error", code, id]."""
    try:
        return list(frames.decode_request(line))
    except frames.FrameError as e:
        return ["error", e.code, e.req_id]


def unix_roundtrip(t):
    y, mo, d, h, mi, s, wd = timeutil.from_unix(t)
    return [[y, mo, d, h, mi, s, wd], timeutil.to_unix(y, mo, d, h, mi, s)]


class FakeTime:
    """A tick counter that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 0

    def ticks_ms(self):
        return self.now

    def diff(self, a, b):
        return a - b

    def add(self, a, b):
        return a + b

    def sleep_ms(self, ms):
        self.now += ms


class FakeRTC:
    """DS3231 stand-in for the clock logic: whole seconds that roll over
    at `phase` ms past each tick-second."""

    def __init__(self, ft, start_unix, phase):
        self.ft = ft
        self.base = start_unix
        self.phase = phase
        self.osf = False
        self.reads = 0

    def _unix(self):
        return self.base + (self.ft.now - self.phase) // 1000

    def read_time(self):
        y, mo, d, h, mi, s, wd = timeutil.from_unix(self._unix())
        self.year, self.month, self.day = y, mo, d
        self.hour, self.minute, self.second = h, mi, s

    def read_seconds(self):
        self.reads += 1
        return self._unix() % 60

    def lost_power(self):
        return self.osf

    def clear_lost_power(self):
        self.osf = False

    def write_time(self, y, mo, d, h, mi, s, wd):
        # Writing seconds restarts the sub-second chain right now.
        self.base = timeutil.to_unix(y, mo, d, h, mi, s)
        self.phase = self.ft.now


def clock_run(start_unix, phase, steps, step_ms, set_ms=None, set_at=None, jump_at=None):
    """Run a Clock over fake time. Returns [[unix_ms seen, true unix ms], ...]
    sampled after each poll, plus seconds reported."""
    ft = FakeTime()
    rtc = FakeRTC(ft, start_unix, phase)
    c = Clock(rtc, ft.ticks_ms, ft.diff, ft.sleep_ms, ft.add)
    out = []
    news = 0
    for i in range(steps):
        if set_at is not None and i == set_at:
            c.set_unix_ms(set_ms, ft.now)
        if jump_at is not None and i == jump_at:
            # someone else sets the RTC: new time, new sub-second phase
            rtc.base += 1000
            rtc.phase = ft.now - 300
        if c.poll():
            news += 1
        true_ms = (rtc.base * 1000) + (ft.now - rtc.phase)
        out.append([c.unix_ms(), true_ms])
        ft.now += step_ms
    return [out, news, c.lost]


def drift_run(path, events):
    """events: [["sync", unix, offset_ms, aging] | ["trim", old, new] |
    ["summary", unix] | ["target", aging] | ["reload"]] -> results."""
    import drift
    d = drift.Drift(path)
    out = []
    for ev in events:
        if ev[0] == "sync":
            m = d.record(ev[1], ev[2], ev[3])
            out.append(None if m is None else round(m, 4))
        elif ev[0] == "trim":
            d.trimmed(ev[1], ev[2])
            out.append(round(d.ppm, 4))
        elif ev[0] == "target":
            out.append(d.trim_target(ev[1]))
        elif ev[0] == "reload":
            d = drift.Drift(path)
            out.append(len(d.syncs))
        else:
            s = d.summary(ev[1])
            out.append([s["since_s"], s["drift_ppm"], s["expected_error_ms"]])
    return out


def render_code(code, width=128, height=64):
    """Draw a code with the firmware's UI into a plain frame buffer (MicroPython
    only: framebuf) and return its bytes, page-major like the SSD1306's RAM."""
    import framebuf
    import ui

    class Panel:
        def __init__(self):
            self.width, self.height = width, height
            self.buf = bytearray(width * height // 8)
            self.fb = framebuf.FrameBuffer(self.buf, width, height, framebuf.MONO_VLSB)
            self.g = bytearray(8)
            self.gfb = framebuf.FrameBuffer(self.g, 8, 8, framebuf.MONO_VLSB)

        def glyph(self, ch):
            self.gfb.fill(0)
            self.gfb.text(ch, 0, 0, 1)
            return self.g

        def show(self, force=False):
            return 0
    panel = Panel()
    ui.UI(panel).code(code, 30)
    return bytes(panel.buf)


def rules_limits():
    """The account rules as the firmware holds them (tests/sim/test_names.py)."""
    import rules
    return [list(rules.KINDS), list(rules.ALGORITHMS), rules.MAX_TEXT, rules.MAX_TEXT,
            rules.MAX_SECRET, rules.MIN_PERIOD, rules.MAX_PERIOD, rules.MAX_COUNTER,
            rules.STEAM_DIGITS, [list(rules.digits_range(k)) for k in rules.KINDS]]


def check_text(value, low):
    """["ok", utf-8 bytes] or ["error", message]."""
    import rules
    try:
        return ["ok", rules.check_text(value, "name", low)]
    except ValueError as e:
        return ["error", e.args[0]]


def drift_from_file(path, text, now):
    """Load a Drift from a clock.json holding `text`; what status and
    calibrate would see: [summary, trim target from aging 0]."""
    import drift
    with open(path, "w") as f:
        f.write(text)
    d = drift.Drift(path)
    return [d.summary(now), d.trim_target(0), len(d.syncs)]


def drift_record(path, offsets):
    """Syncs an hour apart with these offsets: [measured ppm per sync, ppm]."""
    import drift
    d = drift.Drift(path)
    out = []
    t = 1800000000
    for off in offsets:
        out.append(d.record(t, off, 0))
        t += 3600
    return [out, d.ppm]


def command_gate():
    """The serial commands as app.Token composes them, each answered by a
    stand-in so that only service.Service's gate decides. Per command: the
    families that serve it and that declare it privileged or private; whether
    an unsigned request is held back with a PIN, with a PIN and
    --private-list, without a PIN; whether a signed one (PIN and
    --private-list) is checked and then served. Also [family, command] for
    each declaration of a command the family does not serve."""
    import app
    import frames
    from service import CommandError, Service

    class Parts:  # until a command runs, the families only keep their parts
        store = keys = log = screens = clock = rtc = drift = device = typist = None

    class Keys:
        pin = True
        list_private = False
        checked = 0

        def check_request(self, seq, mac, signed):
            self.checked += 1

    families = app.Token._commands(Parts())
    keys = Keys()
    service = Service(keys, families)
    served = []

    def stand_in(cmd):
        def fn(args, received):
            served.append(cmd)
            return {}
        return fn

    for cmd in list(service.handlers):
        service.handlers[cmd] = stand_in(cmd)

    def held(cmd, pin, private, auth=None):
        keys.pin = pin
        keys.list_private = private
        del served[:]
        try:
            service.handle(cmd, {}, 0, auth)
        except CommandError as e:
            if e.code == frames.E_AUTH:
                return True
            raise
        assert served == [cmd]
        return False

    out = {}
    for cmd in service.handlers:
        row = {
            "served_by": [i for i, f in enumerate(families) if cmd in f.handlers],
            "privileged_in": [i for i, f in enumerate(families) if cmd in f.privileged],
            "private_in": [i for i, f in enumerate(families) if cmd in f.private],
            "held": held(cmd, True, False),
            "held_private": held(cmd, True, True),
            "held_no_pin": held(cmd, False, True),
        }
        keys.checked = 0
        row["signed_held"] = held(cmd, True, True, (b"signed", 1, b"mac"))
        row["signed_checked"] = keys.checked
        out[cmd] = row
    stray = []
    for i, f in enumerate(families):
        for cmd in tuple(f.privileged) + tuple(f.private):
            if cmd not in f.handlers:
                stray.append([i, cmd])
    return [out, stray]
