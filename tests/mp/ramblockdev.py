# Block devices for running vfs.VfsLfs2 under the MicroPython unix port in
# tests. RAMBlockDev has a power-cut switch: after n more block-changing
# operations the power "fails", so a test can remount the image exactly as
# flash would hold it at that instant.


class PowerCut(Exception):
    pass


class RAMBlockDev:
    """Flash in a bytearray, with the extended block protocol littlefs uses
    (byte offsets within a block, erase through ioctl 6)."""

    def __init__(self, block_size=4096, count=256):
        self.block_size = block_size
        self.count = count
        self.data = bytearray(block_size * count)
        self._ff = b"\xff" * block_size  # an erased block
        self.writes = 0  # block-changing operations (writes and erases) so far
        self.cut_after(None)

    def cut_after(self, n, torn=False):
        """Let n more writes/erases through; the next one raises PowerCut
        and every later one is silently dropped, so the data stays as flash
        would hold it when the power went. torn=True applies the first half
        of that failing write, as a cut in the middle of programming would.
        n=None keeps the power on."""
        self._left = n
        self._torn = torn
        self.dead = False

    def _power_fails(self):
        # Once per block-changing operation: False if it may go ahead.
        if self.dead:
            return True
        if self._left is not None:
            if self._left == 0:
                self.dead = True
                raise PowerCut()
            self._left -= 1
        self.writes += 1
        return False

    def snapshot(self):
        return bytes(self.data)

    def restore(self, image):
        self.data[:] = image
        self.cut_after(None)

    def readblocks(self, block, buf, offset=0):
        a = block * self.block_size + offset
        buf[:] = memoryview(self.data)[a:a + len(buf)]

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # basic protocol: whole blocks, erase implied
            for i in range(len(buf) // self.block_size):
                self.ioctl(6, block + i)
            offset = 0
        a = block * self.block_size + offset
        try:
            if self._power_fails():
                return 0  # dropped: the power is gone
        except PowerCut:
            if self._torn:
                half = len(buf) // 2
                self.data[a:a + half] = memoryview(buf)[:half]
            raise
        self.data[a:a + len(buf)] = buf
        return 0

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.count
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            if not self._power_fails():
                a = arg * self.block_size
                self.data[a:a + self.block_size] = self._ff
        return 0  # init, deinit, sync


class FileBlockDev:
    """Flash in a host file, so a large image costs no MicroPython heap (for
    measuring the store's own RAM under a small -X heapsize)."""

    def __init__(self, path, block_size=4096, count=256):
        self.block_size = block_size
        self.count = count
        try:
            self.f = open(path, "r+b")
        except OSError:
            self.f = open(path, "w+b")
            zero = bytes(block_size)
            for _ in range(count):
                self.f.write(zero)
            self.f.flush()

    def readblocks(self, block, buf, offset=0):
        self.f.seek(block * self.block_size + offset)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        self.f.seek(block * self.block_size + (offset or 0))
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.count
        if op == 5:
            return self.block_size
        return 0  # erase is a no-op: littlefs does not depend on erased contents
