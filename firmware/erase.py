# Wiping the token: the key first (crypto-erase), then the records, then the
# free flash. A power cut anywhere leaves the keys file flagged F_WIPING, and
# the next boot finishes the job (finish()).
from keystore import fill_free


def wipe(keys, store):
    """`wipe`: every account goes; the PIN and settings stay."""
    keys.begin_wipe()
    return finish(keys, store)


def finish(keys, store):
    """After keys.begin_wipe() or keys.erase() (the last wrong PIN)."""
    n = store.count
    store.wipe()
    fill_free(store.root)
    keys.end_wipe()
    return n
