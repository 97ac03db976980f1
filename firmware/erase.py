# Wiping the token: the keys first, then the records, then (when asked) the
# free flash. The key area holds what is left to do (keystore.py flags), so
# whatever a power cut interrupts, the next start finishes:
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
from factory import FILL, fill


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
