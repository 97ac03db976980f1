"""Copying a one-time code to the computer's clipboard, through the tool the
system has for it (nothing to install on macOS or Windows; on Linux one of
wl-copy, xclip or xsel). Found before anything is asked of the token, so a
code is never fetched only to be lost."""
import os
import shutil
import subprocess

# In the order tried: (program, its arguments, a condition on the session).
_TOOLS = (
    ("wl-copy", [], lambda env: bool(env.get("WAYLAND_DISPLAY"))),
    ("xclip", ["-selection", "clipboard"], lambda env: bool(env.get("DISPLAY"))),
    ("xsel", ["--clipboard", "--input"], lambda env: bool(env.get("DISPLAY"))),
    ("pbcopy", [], lambda env: True),
    ("clip.exe", [], lambda env: True),  # Windows, and WSL
    ("clip", [], lambda env: True),
)


class NoClipboard(Exception):
    pass


def find(env=None):
    """The command line that copies stdin to the clipboard, or NoClipboard."""
    env = os.environ if env is None else env
    for program, args, usable in _TOOLS:
        path = shutil.which(program, path=env.get("PATH"))
        if path and usable(env):
            return [path] + args
    raise NoClipboard("no clipboard here: --copy needs wl-copy (Wayland), xclip or xsel "
                      "(X11), pbcopy (macOS) or clip (Windows)")


def copy(command, text):
    """Put `text` on the clipboard with the command find() gave."""
    try:
        subprocess.run(command, input=text.encode(), check=True, timeout=10,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        raise NoClipboard("copying to the clipboard failed (%s): %s"
                          % (os.path.basename(command[0]), type(e).__name__)) from None
