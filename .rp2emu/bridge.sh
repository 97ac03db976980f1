#!/bin/sh
# Start the emulated Pico with its USB serial at the pseudo-terminal $LINK (default: /work/wt/pin/.rp2emu/tty).
# Extra arguments go to run-mpy.mjs, e.g. --i2c --rtc-start now --fs-save flash.img --ctl ctl.sock
LINK=${LINK:-/work/wt/pin/.rp2emu/tty}
IMAGE=${IMAGE:-/work/shared/rp2emu/micropython-v1.28.0-RPI_PICO.uf2}
cd "/work/wt/pin/.rp2emu"
exec socat PTY,link=$LINK,raw,echo=0 EXEC:"node run-mpy.mjs --image $IMAGE --stdio $*"
