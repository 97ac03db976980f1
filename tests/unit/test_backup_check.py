"""host_tools/cli/backup_cmd.py compare(): the backup against the token's
list, without a token (the command end to end is in tests/sim/test_import_cli.py)."""
import os

import pytest

from host_tools.cli import backup_cmd
from host_tools.errors import CommandError
from host_tools.formats.base import Parsed
from host_tools.formats.otpauth import Account


def _acct(name, issuer=""):
    return Account(name=name, issuer=issuer, secret=os.urandom(20))


def _listed(*accounts):
    return [{"issuer": a.issuer, "name": a.name} for a in accounts]


def test_in_step_says_so_and_lists_what_only_the_backup_has():
    a, b, gone, deleted = _acct("a"), _acct("b", "X"), _acct("gone", "Old"), _acct("del")
    data, text = backup_cmd.compare("/b", _listed(a, b), Parsed([b, a, gone], deleted=[deleted]))
    assert data["missing"] == [] and data["not_on_token"] == ["Old:gone"]
    assert data["deleted"] == ["del"]
    assert text.splitlines() == [
        "all 2 accounts on the token are in the backup at /b",
        "1 account in the backup is not on the token: Old:gone",
        "  provision.py restore puts it back on the token (it skips what is already there).",
        "1 account deleted from the token is kept in the backup, marked (restore "
        "--include-deleted brings it back)."]
    assert backup_cmd.compare("/b", _listed(a), Parsed([a]))[1] == \
        "the one account on the token is in the backup at /b"
    assert backup_cmd.compare("/b", [], Parsed())[1] == "the token has no accounts"


def test_missing_accounts_fail_with_the_names_and_the_fix():
    token = [_acct("n%d" % i) for i in range(4)]
    with pytest.raises(CommandError) as e:
        backup_cmd.compare("/b", _listed(*token), Parsed(token[3:]))
    assert e.value.code == "backup_incomplete" and e.value.exit_code == 1
    assert e.value.message == "the backup at /b misses 3 of the 4 accounts on the token"
    assert e.value.data["missing"] == ["n0", "n1", "n2"]
    assert e.value.report[0] == "3 of the 4 accounts on the token are not in the backup: " \
                                "n0, n1, n2"
    assert "import their original export again" in e.value.report[1]
