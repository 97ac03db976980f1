# Resealing whole buckets under another key: a delete's rekey finished
# after a power cut, a new PIN's renewal, and records of older firmware
# moved under their bucket keys. The store (Store.finish_rekey, renew,
# migrate) imports this only when there is such work to do, so most starts
# never hold its code. It runs on the store's own record and bucket helpers.
#
# Each bucket is one rewrite (all or none on a power cut), and a resealed
# record opens under the old key or the new one, so a cut anywhere leaves
# a store that loads, and the next start goes on where the keys say.
import records
from records import ZERO

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_PER = const(16)     # records per bucket file (rules.PER_BUCKET)
_VERSION = const(3)  # records.py's: what older records are moved to


def reseal_bucket(st, b, key):
    """Rewrite bucket b of store `st` with every listed record resealed
    under `key` (in one write); unlisted slots zeroed."""
    slots = []
    recs = []
    try:
        for s in range(b * _PER, b * _PER + _PER):
            if st._is_used(s):
                r = st._read(s)
                secret = st._open(r, s)
                records.seal_into(r, secret, key, True)
                slots.append(s)
                recs.append(bytearray(r))
                r[:] = ZERO
        if recs and st._in_place:
            # In place rewrites only the listed slots: zero the rest in
            # the same commit (a deleted record must not stay readable).
            for s in range(b * _PER, b * _PER + _PER):
                if not st._is_used(s):
                    slots.append(s)
                    recs.append(ZERO)
        st._write_bucket(b, tuple(slots), recs)
    finally:
        for r in recs:
            if r is not ZERO:
                r[:] = ZERO


def finish_rekey(st, b):
    # Bucket b is under its old key or the next one: the next one it is.
    reseal_bucket(st, b, st.keys.next_keys())
    st.keys.end_rekey()


def renew(st, mark, progress):
    """Every bucket from `mark` on, still under the old DK, resealed under
    the new one, then the old DK dropped. A mark is committed every
    st.renew_step buckets (it costs a key-area commit): a cut means the
    next unlock goes on from the last."""
    keys = st.keys
    nb = st._nb
    for b in range(mark, nb):
        if any(st._is_used(s) for s in range(b * _PER, b * _PER + _PER)):
            reseal_bucket(st, b, keys.renewal_keys(b))
        if (b + 1) % st.renew_step == 0 and b + 1 < nb:
            keys.renewed(b + 1)
        if progress is not None:
            progress(b + 1, nb)
    keys.end_renewal()


def migrate(st, progress):
    """Every bucket holding a record of older firmware resealed under its
    bucket key; returns how many records that was."""
    done = 0
    nb = st._nb
    for b in range(nb):
        old = False
        for s in range(b * _PER, b * _PER + _PER):
            if st._is_used(s) and st._read(s)[1] != _VERSION:
                old = True
                done += 1
        st._rec[:] = ZERO
        if old:
            reseal_bucket(st, b, st._record_key(b * _PER))
        if progress is not None:
            progress(b + 1, nb)
    st.plain = 0
    st.legacy = 0
    return done
