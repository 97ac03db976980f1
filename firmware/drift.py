# Clock drift bookkeeping. Every sync records when it happened, how far off
# the clock was found (ms, token minus true time) and the DS3231 aging offset
# in force. Two syncs far enough apart with the same aging give the drift in
# ppm; the aging register (about 0.1 ppm per step, positive slows the clock)
# can then trim it. Pure logic plus one small JSON file; runs on CPython too.
import json
import os

MIN_SPAN_S = 3600  # below an hour, link jitter of a few ms swamps the ppm figure
AUTO_TRIM_S = 86400  # sync-time trims by itself only over a day or more
PPM_PER_STEP = 0.1
KEEP = 8  # syncs kept in the file
MAX_PPM = 1000  # far beyond any crystal (a DS3231 is within 2): a stored value past it is damage


def _finite(v, limit):
    # A number within +-limit; inf and nan fail (nan fails every comparison).
    return not isinstance(v, bool) and isinstance(v, (int, float)) and -limit <= v <= limit


def _good_sync(e):
    return (isinstance(e, list) and len(e) == 3 and type(e[0]) is int and type(e[2]) is int
            and -128 <= e[2] <= 127 and (e[1] is None or _finite(e[1], 1e13)))


class Drift:
    def __init__(self, path):
        self.path = path
        self.syncs = []  # [unix, offset_ms or None, aging], oldest first
        self.ppm = None  # estimated rate error now (positive: the clock runs fast)
        try:
            with open(path) as f:
                doc = json.load(f)
            syncs = doc["syncs"]
            ppm = doc["ppm"]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return  # no history yet (or a damaged file): start afresh
        # Every value checked: a bad one (an older firmware stored inf) would
        # otherwise break `status` and `calibrate` until the next sync.
        if isinstance(syncs, list) and len(syncs) <= KEEP:
            for e in syncs:
                if not _good_sync(e):
                    return
            self.syncs = syncs
            if ppm is None or _finite(ppm, MAX_PPM):
                self.ppm = ppm

    def _save(self):
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            json.dump({"syncs": self.syncs, "ppm": self.ppm}, f)
        os.rename(tmp, self.path)

    def span(self, unix):
        return unix - self.syncs[-1][0] if self.syncs else None

    def record(self, unix, offset_ms, aging):
        """A sync at `unix` found the clock `offset_ms` off (None: unknown, as
        after a lost clock). Returns the drift measured since the previous
        sync in ppm, or None when the span is too short or aging changed."""
        measured = None
        if offset_ms is not None and not _finite(offset_ms, 1e13):
            offset_ms = None  # not a measurement (the service refuses these already)
        if self.syncs and offset_ms is not None:
            t0, _, aging0 = self.syncs[-1]
            span = unix - t0
            if span >= MIN_SPAN_S and aging0 == aging:
                measured = offset_ms * 1000 / span  # ms per s * 1000 = ppm
                if _finite(measured, MAX_PPM):
                    self.ppm = measured
                else:
                    measured = None  # no crystal is that far off: the time was changed
        self.syncs.append([unix, offset_ms, aging])
        if len(self.syncs) > KEEP:
            self.syncs.pop(0)
        self._save()
        return measured

    def trim_target(self, aging):
        """The aging value that cancels the estimated drift, or None."""
        if self.ppm is None:
            return None
        target = aging + int(round(self.ppm / PPM_PER_STEP))
        return max(-128, min(127, target))

    def trimmed(self, old, new):
        """Aging went from old to new at the last sync: what remains is the
        estimate less what the trim took out."""
        self.ppm -= (new - old) * PPM_PER_STEP
        if self.syncs:
            self.syncs[-1][2] = new
        self._save()

    def summary(self, unix):
        """For `status`: last sync, seconds since, ppm, expected error now."""
        if not self.syncs:
            return {"last_sync": None, "since_s": None, "drift_ppm": None,
                    "expected_error_ms": None}
        since = unix - self.syncs[-1][0] if unix is not None else None
        err = None
        if self.ppm is not None and since is not None:
            err = round(self.ppm * since / 1000, 1)
        return {"last_sync": self.syncs[-1][0], "since_s": since,
                "drift_ppm": None if self.ppm is None else round(self.ppm, 3),
                "expected_error_ms": err}
