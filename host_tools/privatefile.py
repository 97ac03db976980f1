"""Files that hold secrets, written whole or not at all: a temporary file
beside the target (mode 0600 from its creation, whatever the umask), its
bytes flushed to the disk, then renamed onto the target and the directory
flushed too. A crash or an error leaves the old file or none, never half of
the new one, and never a copy readable by others. The backup and the
exports for MFA servers write through here."""
import os
import tempfile


def write_private(path, data, overwrite=True):
    """Write `data` (bytes) to `path`, mode 0600. overwrite=False: refuse
    (FileExistsError) when `path` exists, also when it appeared meanwhile."""
    parent = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(17, "File exists", path)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".%s." % os.path.basename(path),
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)  # mkstemp's mode already; said again for the record
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the name was taken since the check
            os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(parent)


def fsync_dir(parent):
    """Make a rename in `parent` durable; not every platform can open a directory."""
    try:
        fd = os.open(parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
