"""host_tools/backup/plan.py make_plan: what an import does with an entry
whose label is on the token, given what the host backup knows of the
token's secrets (issue 17: another secret was skipped as the same account)."""
import os

from host_tools.backup import plan
from host_tools.formats.otpauth import Account


def _token(*accounts):
    return [{"issuer": a.issuer, "name": a.name, "kind": a.kind, "algorithm": a.algorithm,
             "digits": a.digits, "period": a.period} for a in accounts]


def _known(*accounts):
    return {(a.issuer, a.name): a.secret for a in accounts}


ON_TOKEN = Account(name="alice", issuer="GitHub", secret=os.urandom(20))
SAME = Account(name="alice", issuer="GitHub", secret=ON_TOKEN.secret)
OTHER = Account(name="alice", issuer="GitHub", secret=os.urandom(20))


def test_the_same_secret_is_already_there():
    p = plan.make_plan([SAME], _token(ON_TOKEN), False, _known(ON_TOKEN))
    assert p.write == [] and p.skipped == [("GitHub:alice", plan.ALREADY)]


def test_another_secret_is_skipped_and_said_or_renamed_with_rename():
    p = plan.make_plan([OTHER], _token(ON_TOKEN), False, _known(ON_TOKEN))
    assert p.write == [] and p.clashes == []
    assert p.skipped == [("GitHub:alice", plan.OTHER_SECRET)]
    p = plan.make_plan([OTHER], _token(ON_TOKEN), True, _known(ON_TOKEN))
    assert [a.label for a in p.write] == ["GitHub:alice (2)"]
    assert p.write[0].secret == OTHER.secret and p.skipped == []
    assert p.renamed == [("GitHub:alice", "GitHub:alice (2)")]


def test_without_the_backup_s_copy_the_reason_says_nothing_was_compared():
    p = plan.make_plan([OTHER], _token(ON_TOKEN), True, None)
    assert p.write == [] and p.skipped == [("GitHub:alice", plan.NO_BACKUP)]
    assert p.to_backup == []


def test_what_the_backup_lacks_goes_there_once():
    twice = Account(name="alice", issuer="GitHub", secret=os.urandom(20))
    p = plan.make_plan([OTHER, OTHER, twice], _token(ON_TOKEN), True, {})
    assert p.write == [] and p.to_backup == [OTHER]
    assert p.skipped == [("GitHub:alice", plan.TO_BACKUP),
                         ("GitHub:alice", "twice in the import"),
                         ("GitHub:alice", "twice in the import, with another secret: "
                                          "the backup gets the first")]


def test_secrets_are_asked_for_only_when_a_label_and_settings_match():
    assert plan.same_as_token([OTHER], _token(ON_TOKEN))
    longer = Account(name="alice", issuer="GitHub", secret=OTHER.secret, digits=8)
    assert not plan.same_as_token([longer], _token(ON_TOKEN))
    assert not plan.same_as_token([Account(name="bob", secret=OTHER.secret)], _token(ON_TOKEN))
