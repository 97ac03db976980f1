# The board layer for real MicroPython ports: builds the I2C bus and the
# button from the constants in the board file. A board file can provide
# make_i2c() / make_button() / mount_storage() / reset() itself (the
# simulator does).

# In the data directory: asks the next boot (once) to stay at the REPL.
MAINTENANCE_FLAG = "maintenance"


def make_i2c(board):
    from machine import I2C, Pin
    return I2C(board.I2C_ID, scl=Pin(board.SCL), sda=Pin(board.SDA), freq=board.I2C_FREQ)


def make_button(board):
    """A function returning True while the button is held."""
    from machine import Pin
    if board.BUTTON_ACTIVE_LOW:
        pin = Pin(board.BUTTON_PIN, Pin.IN, Pin.PULL_UP)
        return lambda: pin.value() == 0
    pin = Pin(board.BUTTON_PIN, Pin.IN, Pin.PULL_DOWN)
    return lambda: pin.value() == 1


def mount_storage(board):
    """Real boards already mount littlefs at /; the store lives below it."""
    return board.DATA_DIR


def data_dir(board):
    """The mounted data directory (mounting is idempotent)."""
    return board.mount_storage() if hasattr(board, "mount_storage") else mount_storage(board)


_done = {}  # one setup per board: the storage can be mounted only once


def setup(board):
    """(i2c, button, data_dir) for `board`, letting the board override each.
    Repeat calls (maintenance screen, then the firmware) get the same ones."""
    key = id(board)
    if key in _done:
        return _done[key]
    i2c = board.make_i2c() if hasattr(board, "make_i2c") else make_i2c(board)
    button = board.make_button() if hasattr(board, "make_button") else make_button(board)
    _done[key] = (i2c, button, data_dir(board))
    return _done[key]


def reset(board):
    """Restart the board, as the reset button would."""
    if hasattr(board, "reset"):
        board.reset()
    else:
        import machine
        machine.reset()
