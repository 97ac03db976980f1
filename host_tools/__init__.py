"""Host-side tools for the TOTP token: provisioning CLI, protocol library, simulator."""

# The package version: pyproject.toml reads it from here, `provision.py --version` prints it.
__version__ = "0.1.0"
