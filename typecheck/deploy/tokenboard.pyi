# `make deploy` copies the chosen boards/<BOARD>.py beside main.py under this
# name; the firmware only passes the module on, so an empty stand-in will do.
