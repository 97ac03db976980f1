"""Host-side tools for the TOTP token: provisioning CLI, protocol library, simulator."""
