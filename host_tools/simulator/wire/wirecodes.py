# The codes on the simulated board's wire, written once for both ends: the
# host's bus server (host_tools/simulator/bus.py, which imports this as a
# package module) and the board processes (mp_hw/simboard.py under
# MicroPython, cpy_hw/ under CPython), which find it as a plain module on
# their path. So: no imports, nothing a MicroPython unix port lacks.
#
# A message is op, address, length (16-bit little-endian), then the payload.

OP_WRITE = 0x57  # I2C write of `length` payload bytes; reply: status
OP_READ = 0x52  # I2C read of `length` bytes; reply: status, the bytes
OP_READ_MEM = 0x4D  # one register byte written, then a repeated-start read: one round trip
OP_PIN = 0x50  # read the pin numbered `address`; reply: status, level
OP_FLASH_WRITE = 0x46  # announced before each flash write; the host may cut power instead of replying
OP_HID = 0x48  # length 8: a USB keyboard input report; 0: only the LEDs. Reply: status, LED byte

ACKED = 0  # status byte: the device answered
NOT_ACKED = 1  # nobody at that address

HID_TAKEN = 0  # the host took the report
HID_BUSY = 1  # its endpoint is still full: send it again later
HID_BAD = 2  # not an 8-byte report

RESET_EXIT = 97  # a board process ending so asked for a reset: the host starts it again
HOST_GONE_EXIT = 99  # the bus closed under a flash write: the power is off
