# The two flash pages the key area lives in (keyarea.py), each one erase
# unit that is erased in place: what a page held is gone from the chip once
# it is erased. That is the point: a filesystem (littlefs, FAT) writes a
# changed file somewhere new and leaves the old bytes in free blocks, where
# a flash dump finds them (docs/security.md). A page offers:
#     read_into(buf)   PAGE bytes
#     erase()          every byte 0xFF
#     program(buf)     PAGE bytes onto an erased page
# Three media, chosen by the runtime (docs/runtime.md):
#   BlockPage  one block of the flash that littlefs is on (rp2.Flash(), the
#              esp32 `vfs` partition, the simulator's flash image), owned by
#              a one-block file so littlefs never reuses it: littlefs_pages()
#   BytesPage  CircuitPython's microcontroller.nvm: a flash sector of its own
#   FilePage   a file overwritten in place (CircuitPython's FAT drive writes
#              a file's clusters where they are; a plain directory in tests)
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

import os

from digests import sha256

PAGE = const(4096)
_ERASE = const(6)  # the block protocol's erase ioctl
_BLOCK_SIZE = const(5)
_BLOCK_COUNT = const(4)
_LOC_MAGIC = b"TKKL"
_PAGE_MAGIC = b"TKKP"  # a new page file's first bytes, until the page is first written
_LOC_SIZE = const(28)  # magic 4, tag 16, block a u16, block b u16, check 4
# Erasing writes this small run of 0xFF over and over: a whole erased page
# in one piece is a 4 KB allocation, which a fragmented heap on a board with
# 1000 accounts loaded may not have.
CHUNK = const(256)
ERASED = b"\xff" * CHUNK


class BlockPage:
    """One erase block of a block device (the extended block protocol)."""

    def __init__(self, bdev, block):
        self.bdev = bdev
        self.block = block

    def read_into(self, buf):
        self.bdev.readblocks(self.block, buf, 0)

    def erase(self):
        self.bdev.ioctl(_ERASE, self.block)

    def program(self, buf):
        self.bdev.writeblocks(self.block, buf, 0)  # with an offset: no erase first


class BytesPage:
    """PAGE bytes of a byte array kept in flash (microcontroller.nvm)."""

    def __init__(self, mem, start=0):
        self.mem = mem
        self.start = start

    def read_into(self, buf):
        buf[:] = self.mem[self.start:self.start + PAGE]

    def erase(self):
        for at in range(self.start, self.start + PAGE, CHUNK):
            self.mem[at:at + CHUNK] = ERASED

    def program(self, buf):
        self.mem[self.start:self.start + PAGE] = buf


class FilePage:
    """A file of PAGE bytes, always rewritten in place (never replaced)."""

    def __init__(self, path):
        self.path = path
        try:
            if os.stat(path)[6] == PAGE:
                return
        except OSError:
            pass
        with open(path, "wb") as f:  # new (or not ours): an erased page
            for _ in range(PAGE // CHUNK):
                f.write(ERASED)

    def read_into(self, buf):
        with open(self.path, "rb") as f:
            f.readinto(buf)

    def _write(self, data):
        with open(self.path, "r+b") as f:
            f.write(data)

    def erase(self):
        with open(self.path, "r+b") as f:
            for _ in range(PAGE // CHUNK):
                f.write(ERASED)

    def program(self, buf):
        self._write(buf)


def _check(b):
    return sha256(b).digest()[:4]


def _read_loc(path):
    try:
        with open(path, "rb") as f:
            b = f.read(_LOC_SIZE)
    except OSError:
        return None
    if len(b) != _LOC_SIZE or b[:4] != _LOC_MAGIC or _check(b[:24]) != b[24:]:
        return None
    return (b[20] << 8 | b[21], b[22] << 8 | b[23])


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _find(bdev, marker):
    """The block whose first bytes are `marker` (the page file just written)."""
    head = bytearray(len(marker))
    for n in range(bdev.ioctl(_BLOCK_COUNT, 0)):
        bdev.readblocks(n, head, 0)
        if head == marker:
            return n
    raise OSError(5)  # EIO: littlefs put it where we can't see it


def littlefs_pages(bdev, root):
    """(BlockPage, BlockPage) in the files ka and kb of `root`, a folder on
    the littlefs that lives on `bdev`. Each file is exactly one block, so
    its data sits in that block from byte 0 with no littlefs pointers in it;
    littlefs never moves or rewrites a file it is not asked to write, so the
    block stays the file's while we erase and program it directly. keyloc
    remembers which blocks they are (an erased page can't be found by its
    contents); it is written last, so a power cut while the files are made
    leaves no keyloc and the next start makes them afresh."""
    if bdev.ioctl(_BLOCK_SIZE, 0) != PAGE:
        raise OSError(22)  # EINVAL: pages are one erase block each
    loc = root + "/keyloc"
    found = _read_loc(loc)
    if found is not None:
        try:
            if os.stat(root + "/ka")[6] == PAGE and os.stat(root + "/kb")[6] == PAGE:
                return BlockPage(bdev, found[0]), BlockPage(bdev, found[1])
        except OSError:
            pass
    from crypto import random_bytes
    tag = random_bytes(16)
    blocks = []
    for name in ("ka", "kb"):
        _remove(root + "/" + name)
        marker = _PAGE_MAGIC + tag + name.encode()
        with open(root + "/" + name, "wb") as f:
            f.write(marker)
            f.write(b"\xff" * (PAGE - len(marker)))
        blocks.append(_find(bdev, marker))
    b = bytearray(_LOC_SIZE)
    b[:4] = _LOC_MAGIC
    b[4:20] = tag
    b[20] = blocks[0] >> 8
    b[21] = blocks[0] & 0xFF
    b[22] = blocks[1] >> 8
    b[23] = blocks[1] & 0xFF
    b[24:] = _check(b[:24])
    with open(loc + ".new", "wb") as f:
        f.write(b)
    os.rename(loc + ".new", loc)
    pages = (BlockPage(bdev, blocks[0]), BlockPage(bdev, blocks[1]))
    for p in pages:
        p.erase()  # the markers go: a page is blank until its first state
    return pages


def file_pages(root):
    """Both pages in files of `root` (a CircuitPython board without nvm, and
    CPython tests, where nothing is erased in place anyway)."""
    return FilePage(root + "/ka"), FilePage(root + "/kb")
