"""`totp-token completion bash`: generated from the argparse tree, so every
command and option is there; checked by running the script in bash."""
import contextlib
import io
import shlex
import subprocess

import pytest

from host_tools import completion, provision


def _script():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert provision.main(["completion", "bash"]) == 0
    return out.getvalue()


def _complete(script, line):
    """What bash offers for the last word of `line` (an empty last word when
    the line ends in a space)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    prog = script + "\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_totp_token\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n" \
        % (" ".join(shlex.quote(w) for w in words), len(words) - 1)
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.split("\n") if w]


def test_script_is_valid_bash_and_registers_the_command():
    script = _script()
    proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert script.rstrip().endswith("complete -o default -F _totp_token totp-token")


def test_every_command_and_option_is_offered():
    script = _script()
    parser = provision.build_parser()
    commands = completion._subcommands(parser)
    assert set(_complete(script, "totp-token ")) >= set(commands) | {"--port", "--version"}
    for name, sub in commands.items():
        words, _ = completion._options(sub)
        assert set(_complete(script, "totp-token %s --" % name)) == set(words), name


@pytest.mark.parametrize("line, expect", [
    ("totp-token sy", ["sync-time"]),
    ("totp-token add --alg", ["--algorithm"]),
    ("totp-token add --algorithm SHA", ["SHA1", "SHA256", "SHA512"]),
    ("totp-token --json import --format a", ["aegis", "andotp"]),
    ("totp-token import ", []),  # file names: bash's default, not ours
])
def test_completes(line, expect):
    assert _complete(_script(), line) == expect
