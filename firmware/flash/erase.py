# Erasing, all of it here: `wipe` (the keys first, then the records, then,
# when asked, the free flash), the free-flash fill, and the factory reset
# (factory.py's screens call factory_reset()). For `wipe` the key area holds
# what is left to do (keystore.py flags), so whatever a power cut interrupts,
# the next start finishes:
#
#   crypto-erase  a new data key and bucket table replace the old ones in
#                 one commit of the key area, whose old page is erased in
#                 place (keyarea.py): from that instant no copy of any record
#                 anywhere on the flash opens. F_WIPING (and F_SCRUB) set.
#   store         every record zeroed and removed (tidiness and space: they
#                 are unreadable already); F_WIPING cleared.
#   scrub         zeros into every free flash block, then freed again:
#                 defence in depth against copies of anything else that
#                 littlefs left in free blocks; F_SCRUB cleared. It costs a
#                 write of the whole free flash (about 20 s on an RP2040's
#                 1.4 MB): the last wrong PIN and `wipe --scrub` do it.
import os

FILL = "wipe.tmp"      # the fill file, inside the data directory
_CHUNK = 512


def wipe(keys, store, scrub=False, progress=None):
    """`wipe`: every account goes; the PIN and settings stay."""
    n = store.count
    keys.begin_wipe(scrub)
    finish_wipe(keys, store)
    finish_scrub(keys, store.root, progress)
    return n


def finish_wipe(keys, store):
    """The store's part of a crypto-erase, if one is under way."""
    if keys.wiping:
        store.wipe()
        keys.end_wipe()


def finish_scrub(keys, root, progress=None):
    """The free-flash scrub, if one is due; progress(done, total) bytes."""
    if keys.scrub_due:
        scrub_free(root, progress)
        keys.end_scrub()


def scrub_free(root, progress=None):
    """Zeros into every free flash block, then free them again (the same
    fill as the factory reset)."""
    return fill(root + "/" + FILL, progress)


def _scrub(path):
    """Overwrite a file with zeros, then remove it; a directory's contents
    first."""
    st = os.stat(path)
    if st[0] & 0x4000:
        for name in os.listdir(path):
            _scrub(path + "/" + name)
        os.rmdir(path)
        return
    zero = bytes(_CHUNK)
    try:
        with open(path, "r+b") as f:
            for _ in range((st[6] + _CHUNK - 1) // _CHUNK):
                f.write(zero)
    except OSError:
        pass  # full or damaged: removing it is what is left
    os.remove(path)


def fill(path, progress=None):
    """Write zeros to `path` until the flash is full, then remove it.
    Returns the bytes written. progress(done, total): every 64 KB."""
    zero = bytes(_CHUNK)
    n = 0
    total = 0
    if progress is not None:
        try:
            st = os.statvfs(path[:path.rfind("/")] or "/")
            total = st[0] * st[4]
        except OSError:
            pass
    try:
        f = open(path, "wb")
    except OSError:
        return 0
    try:
        while True:
            f.write(zero)
            n += _CHUNK
            if progress is not None and not n % 65536:
                progress(n, max(total, n))
    except OSError:
        pass  # ENOSPC: every free block now holds zeros
    try:
        f.close()
    except OSError:
        pass
    _remove(path)
    return n


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        try:  # a full littlefs may need the data freed before the entry goes
            open(path, "wb").close()
            os.remove(path)
        except OSError:
            pass


def factory_reset(root, pages=()):
    """Erase the key pages, the data directory `root` and the flash's free
    space; leaves an empty directory with a fresh log saying a factory
    reset happened. Returns the bytes of free space filled."""
    for p in pages:
        p.erase()
    try:
        _scrub(root)
    except OSError:
        pass  # not there (never used): nothing to remove
    os.mkdir(root)
    filled = fill(root + "/" + FILL)
    try:
        import eventlog
        log = eventlog.EventLog(root + "/log")
        log.event(eventlog.FACTORY_RESET, filled // 1024)
        log.flush(True)
    except Exception:
        pass  # a reset token without a log is still a reset token
    return filled


def leftover(root):
    """At boot: remove a fill file a power cut left behind (it holds the
    whole free space)."""
    try:
        os.stat(root + "/" + FILL)
    except OSError:
        return
    _remove(root + "/" + FILL)
