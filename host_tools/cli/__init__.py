"""The command line, one module per command group over common.py (prompts,
output helpers); host_tools/provision.py is the dispatch table over them.

  accounts   add, list, rename, delete, move, sort
  transfer   import, restore, export
  clock      sync-time, calibrate
  device     status, info, maintenance, devices, wipe
  lock       pin, config (and the PIN prompt every command uses)
  log        log, data
  backup_file  the host backup's options, password and updates, for the above
"""
