"""host_tools/inventory.py and log_cli.py without a token: docs/usage.md's section
is the table's, host files are found, log entries read as plain words, and
--follow / --clear behave."""
import argparse
import io
import json
import os

import pytest

from host_tools import inventory
from host_tools.cli import log as log_cli
from host_tools.errors import CommandError

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in


def test_the_doc_section_is_generated_from_the_table():
    with open(os.path.join(REPO, "docs", "usage.md"), encoding="utf-8") as f:
        text = f.read()
    assert inventory.rewrite_doc(text) == text, "run `make inventory`"
    # Every row of the table is in it, the PIN's key file included.
    for item in inventory.TOKEN + inventory.HOST:
        assert item.holds.replace("|", "\\|") in text
    assert "key wrapped under the PIN" in text


def test_rewrite_doc_replaces_only_between_the_markers():
    text = "top\n%s\nstale\n%s\nbottom\n" % (inventory.BEGIN, inventory.END)
    out = inventory.rewrite_doc(text)
    assert out.startswith("top\n" + inventory.BEGIN) and out.endswith(inventory.END + "\nbottom\n")
    assert "stale" not in out and "| `keys` |" in out


def test_host_files_found_with_their_sizes(tmp_path):
    backup = tmp_path / "backup.aegis.json"
    backup.write_text("{}")
    (tmp_path / "backup.aegis.json.lock").write_text("")
    (tmp_path / ".backup.aegis.json.x1.tmp").write_text("abc")
    rows = {r["name"]: r for r in inventory.describe_host(str(backup))}
    assert rows["backup"]["paths"] == [{"path": str(backup), "size": 2}]
    assert rows["backup lock"]["paths"][0]["size"] == 0
    assert rows["backup temporary"]["paths"][0]["size"] == 3
    assert rows["exported QR codes"]["paths"] == []


def test_unknown_token_files_are_flagged():
    rows = inventory.describe_token([["bk", 0, 1], ["mystery", 5, 0]])
    assert rows[0]["encrypted"].startswith("the secrets only")
    assert rows[1]["holds"] == "not written by this firmware version"


@pytest.mark.parametrize("entry, words", [
    ([1, 0, 0, "boot", 1, 3, 0, "pwron"], "started (reset cause: pwron; 3 accounts)"),
    ([2, 0, 0, "sync", -12, 0, -3, ""], "time synced: clock was -12 ms off; aging trimmed +0 -> -3"),
    ([3, 0, 0, "sync", None, 0, 0, ""], "time synced: clock was lost"),
    ([4, 0, 0, "error", 2, 0, 7, "bad_frame"], "error in bad frame: bad_frame (x7)"),
    ([5, 0, 0, "pin-failed", 2, 3, 0, ""], "wrong PIN (2 in a row, 3 tries left)"),
    ([6, 0, 0, "add", 4, 9, 0, ""], "added 4 accounts; 9 on the token"),
    ([7, 0, 0, "store-repaired", 1, 1, 0, ""],
     "store repaired after a power cut: 1 damaged record dropped, index rebuilt"),
])
def test_entries_read_as_plain_words(entry, words):
    assert log_cli.describe(entry) == words


def test_relative_times():
    now = 1_800_000_000
    assert log_cli.ago(now - 2, now) == "just now"
    assert log_cli.ago(now - 180, now) == "3 min ago"
    assert log_cli.ago(now - 7200, now) == "2 h ago"
    assert log_cli.ago(now - 3 * 86400, now) == "3 days ago"
    assert log_cli.when([1, 42, 1], now) == "42 s after boot"


class FakeClient:
    """Answers `log` from a list that grows as the test says."""

    def __init__(self, entries):
        self.entries = entries
        self.calls = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def request(self, cmd, **args):
        self.calls.append((cmd, args))
        if cmd == "log-clear":
            return {"next": 9}
        found = [e for e in self.entries if ("after" not in args or e[0] > args["after"])
                 and ("before" not in args or e[0] < args["before"])]
        found.sort(key=lambda e: e[0], reverse=args.get("order") == "newest")
        return {"entries": found[:2], "more": len(found) > 2, "failures": 0, "capacity": 95}


def _args(**kw):
    base = dict(follow=False, clear=False, yes=False, names=None, json=False)
    base.update(kw)
    return argparse.Namespace(**base)


def _entry(seq):
    return [seq, 1_800_000_000, 0, "sync", seq, 0, 0, ""]


def test_log_pages_through_everything_oldest_first():
    client = FakeClient([_entry(i) for i in range(1, 6)])
    data, text = log_cli.run_log(_args(), lambda: client, clock=lambda: 1_800_000_060)
    assert [e["seq"] for e in data["entries"]] == [1, 2, 3, 4, 5]
    assert "1 min ago" in text


def test_follow_asks_for_what_is_new_until_ctrl_c(capsys):
    client = FakeClient([_entry(1)])
    polls = []

    def sleep(s):
        polls.append(s)
        if len(polls) == 1:
            client.entries += [_entry(2), _entry(3), _entry(4)]
        elif len(polls) == 3:
            raise KeyboardInterrupt

    data, _ = log_cli.run_log(_args(follow=True, json=True), lambda: client, sleep=sleep)
    shown = [json.loads(line)["seq"] for line in capsys.readouterr().out.splitlines()]
    assert shown == [1, 2, 3, 4] and data == {"followed": 4, "last": 4}
    assert ("log", {"order": "oldest", "after": 1}) in client.calls


def test_clear_needs_yes_without_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    client = FakeClient([])
    with pytest.raises(CommandError) as e:
        log_cli.run_log(_args(clear=True), lambda: client)
    assert e.value.code == "confirm_required" and client.calls == []
    data, _ = log_cli.run_log(_args(clear=True, yes=True), lambda: client)
    assert client.calls == [("log-clear", {"confirm": "log-clear"})]


def test_data_host_only_needs_no_token(capsys, monkeypatch, tmp_path):
    from host_tools import provision
    backup = tmp_path / "b.aegis.json"
    backup.write_text("{}")
    monkeypatch.setenv("TOKEN_BACKUP", str(backup))
    assert provision.main(["data", "--host-only", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in doc["data"]["host"]}
    assert rows["backup"]["paths"][0]["path"] == str(backup)
    assert "token" not in doc["data"]


class FilesClient(FakeClient):
    """Answers `files` with one of each file the firmware writes."""

    def request(self, cmd, **args):
        files = [["bk", 0, 1], ["index", 40, 0], ["ka", 4096, 0], ["kb", 4096, 0],
                 ["keys", 96, 0], ["clock.json", 80, 0], ["log", 512, 0]]
        return {"dir": "/data", "storage": {"free": 1000, "total": 2000},
                "files": files[args["start"]:], "total": len(files)}


def test_data_says_each_thing_once(tmp_path):
    """Issue 17: `data` printed "encrypted: encrypted: keys wrapped under the
    PIN": the column's values are answers to "encrypted?", not repeats of it."""
    args = argparse.Namespace(host_only=False, backup=str(tmp_path / "b.aegis.json"))
    data, text = log_cli.run_data(args, lambda: FilesClient([]))
    assert "encrypted: yes: keys wrapped under the PIN" in text
    for line in text.splitlines():
        words = line.split()
        assert all(a != b for a, b in zip(words, words[1:])), line
