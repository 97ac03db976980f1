"""Host-side tools for the TOTP token: provisioning CLI, protocol library, simulator."""

# The release, defined once in firmware/protocol/frames.py (the token reports the same
# one in `info`): pyproject.toml reads it there, `provision.py --version` prints it.
from firmware.protocol.frames import RELEASE as __version__  # noqa: F401
