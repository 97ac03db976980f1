"""The host-side backup: the file (vault.py: an encrypted Aegis vault,
changed under a lock) and the import plan with its write engine (plan.py)."""
