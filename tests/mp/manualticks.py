# A runtime's ticks that move only when a driver moves them (`now`, in ms):
# the drivers in tests/mp run the firmware's screens on time they choose.


class ManualTicks:
    def __init__(self):
        self.now = 0

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b
