# Wiping the token: the key first (crypto-erase), then the records. A power
# cut in between leaves the keys file flagged F_WIPING, and the next boot
# finishes the job (finish()).
#
# scrub: littlefs is copy-on-write, so old copies of the key file (the old
# data key, wrapped) and of records stay in free blocks until reused. A scrub
# fills all free flash with zeros and frees it again: the last wrong PIN and
# `wipe --scrub` do it. It costs a write of the whole free flash (about 20 s
# on an RP2040's 1.4 MB), so a plain `wipe` leaves it out.
from factory import FILL, fill


def wipe(keys, store, scrub=False):
    """`wipe`: every account goes; the PIN and settings stay."""
    keys.begin_wipe()
    return finish(keys, store, scrub)


def finish(keys, store, scrub=False):
    """After keys.begin_wipe() or keys.erase() (the last wrong PIN)."""
    n = store.count
    store.wipe()
    keys.end_wipe()
    if scrub:
        scrub_free(store.root)
    return n


def scrub_free(root):
    """Zeros into every free flash block, then free them again (the same
    fill as the factory reset; a power cut leaves its file, which the next
    boot removes: factory.leftover)."""
    return fill(root + "/" + FILL)
