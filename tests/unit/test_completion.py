"""`totp-token completion bash|zsh|fish`: generated from the argparse tree,
so every command and option is there; checked by running each script in its
real shell (`make test` installs zsh and fish when they are missing, see the
Makefile's `shells`): bash through COMP_WORDS, zsh through its completion
builtins, fish through `complete -C`. `--port <Tab>` offers the serial ports
and the running simulators, for `totp-token` and `provision.py` alike."""
import contextlib
import io
import os
import shlex
import shutil
import subprocess

import pytest

from host_tools import completion, provision, simstate

SHELLS = ("bash", "zsh", "fish")
PROGRAMS = ("totp-token", "provision.py")


def _script(shell):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert provision.main(["completion", shell]) == 0
    return out.getvalue()


def _shell(name):
    path = shutil.which(name)
    assert path, "%s is not installed: `make shells` installs it (make test does)" % name
    return path


def _words(line):
    return shlex.split(line) + ([""] if line.endswith(" ") else [])


def _bash(script, line):
    words = _words(line)
    fn = "_totp_token"
    prog = script + "\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n%s\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n" \
        % (" ".join(shlex.quote(w) for w in words), len(words) - 1, fn)
    return [_shell("bash"), "--norc", "--noprofile", "-c", prog]


# zsh's completion builtins work only inside a completion widget: here compadd
# prints what it is given, as zsh would list it once filtered by the word typed
# (the filter is zsh's, so the test applies it), and _files stands for zsh's
# file completion.
ZSH_STUBS = """
compdef() { print -r -- "compdef $*" >&2 }
compadd() { while [[ $1 == -* && $1 != -- ]]; do shift; done; [[ $1 == -- ]] && shift
            print -rl -- "$@" }
_files() { print -r -- "<files>" }
"""


def _zsh(script, line):
    words = _words(line)
    prog = ZSH_STUBS + script + "\nwords=(%s)\nCURRENT=%d\n_totp_token\n" % (
        " ".join(shlex.quote(w) for w in words), len(words))
    return [_shell("zsh"), "-f", "-c", prog]


def _fish(script, line):
    prog = script + "\ncomplete -C %s\n" % shlex.quote(line)
    return [_shell("fish"), "--no-config", "-c", prog]


def complete(shell, line, cwd):
    """What `shell` offers for the last word of `line` (an empty last word
    when the line ends in a space); files stand as "<files>"."""
    script = _script(shell)
    argv = {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](script, line)
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60)
    assert proc.returncode == 0, proc.stderr
    offered = [w.split("\t")[0] for w in proc.stdout.split("\n") if w]
    if shell == "zsh":
        typed = _words(line)[-1]
        offered = [w for w in offered if w == "<files>" or w.startswith(typed)]
    return offered


@pytest.fixture
def empty_dir(tmp_path):
    """The shell's working directory: no file names to mix into the answers."""
    d = tmp_path / "cwd"
    d.mkdir()
    return str(d)


@pytest.mark.parametrize("shell", SHELLS)
def test_script_is_valid_and_registers_both_names(shell, tmp_path):
    script = _script(shell)
    path = tmp_path / ("completion." + shell)
    path.write_text(script)
    check = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}
    proc = subprocess.run([_shell(shell)] + check[shell][1:] + [str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    if shell == "bash":
        assert script.rstrip().endswith("complete -o default -F _totp_token " +
                                        " ".join(PROGRAMS))
    elif shell == "zsh":
        assert script.rstrip().endswith("compdef _totp_token " + " ".join(PROGRAMS))
    else:
        for program in PROGRAMS:
            assert "complete -c %s " % program in script


@pytest.mark.parametrize("shell", SHELLS)
def test_every_command_and_option_is_offered(shell, empty_dir):
    parser = provision.build_parser()
    commands = completion._subcommands(parser)
    assert set(complete(shell, "totp-token ", empty_dir)) >= set(commands)
    assert set(complete(shell, "provision.py ", empty_dir)) >= set(commands)
    assert set(complete(shell, "totp-token --", empty_dir)) >= {"--port", "--version"}
    for name, sub in commands.items():
        words = {o.name for o in completion._options(sub, nested=True)}
        assert set(complete(shell, "totp-token %s --" % name, empty_dir)) == words, name


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("line, expect", [
    ("totp-token sy", ["sync-time"]),
    ("totp-token add --alg", ["--algorithm"]),
    ("totp-token add --algorithm SHA", ["SHA1", "SHA256", "SHA512"]),
    ("totp-token --json import --format a", ["aegis", "andotp"]),
    ("provision.py config --typing ", ["off", "on"]),
    ("totp-token import ", ["<files>"]),  # file names: the shell's own
    ("totp-token pin ", ["change", "remove", "set"]),  # a command's own choices
    ("totp-token pin set --tr", ["--tries"]),
    ("provision.py completion ", ["bash", "fish", "zsh"]),
    ("totp-token backup c", ["check"]),
])
def test_completes(shell, line, expect, empty_dir):
    got = complete(shell, line, empty_dir)
    if expect == ["<files>"]:
        # bash falls back to file names by itself (complete -o default): ours
        # offers nothing; fish lists the (empty) directory: nothing either.
        expect = {"bash": [], "zsh": ["<files>"], "fish": []}[shell]
    assert sorted(got) == expect


@pytest.fixture
def a_simulator(tmp_path, monkeypatch):
    """A running simulator as the ports' lister sees one: its state file,
    naming a pseudo-terminal that exists, for a process that is alive (us)."""
    monkeypatch.setenv(simstate.ENV, str(tmp_path / "sims"))
    master, slave = os.openpty()
    port = os.ttyname(slave)
    simstate.register(port)
    yield port
    os.close(master)
    os.close(slave)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("line", ["totp-token --port ", "provision.py --port ",
                                  "totp-token list --port ", "provision.py --json status --port "])
def test_port_offers_the_serial_ports_and_the_simulators(shell, line, a_simulator, empty_dir):
    """Issue 17: `--port <Tab>` offered file names (or nothing)."""
    got = complete(shell, line, empty_dir)
    assert a_simulator in got
    assert sorted(got) == sorted(completion.ports())
    assert "<files>" not in got


def test_ports_are_the_ones_devices_sees_then_the_other_serial_ports(a_simulator, monkeypatch):
    from host_tools import link
    monkeypatch.setattr(link, "usb_candidates", lambda: [
        {"port": "/dev/ttyACM0", "source": "usb", "description": "x", "serial_number": None}])

    class Port:
        def __init__(self, device):
            self.device = device
    monkeypatch.setattr(link.list_ports, "comports",
                        lambda: [Port("/dev/ttyS0"), Port("/dev/ttyACM0")])
    assert completion.ports() == ["/dev/ttyACM0", a_simulator, "/dev/ttyS0"]


def test_ports_as_a_command(a_simulator, capsys):
    assert provision.main(["completion", "--ports"]) == 0
    assert a_simulator in capsys.readouterr().out.splitlines()


def test_completion_needs_a_shell_or_ports(capsys):
    assert provision.main(["completion"]) == 2
    assert "bash, zsh or fish" in capsys.readouterr().err
