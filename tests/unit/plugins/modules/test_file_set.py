# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Unit tests for plugins/modules/file_set.py, on a temporary directory of this machine
(owners are this process's uid/gid, so the tests also run without root)."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.commandcenter.infra.plugins.modules import file_set
from ansible_collections.commandcenter.infra.plugins.modules.file_set import FileSetError, run

UID, GID = str(os.getuid()), str(os.getgid())
SECRET = "s3cret-value-never-shown-7f3a"


def directory(path, mode="0750"):
    return {"path": str(path), "owner": UID, "group": GID, "mode": mode}


def secret(path, content=SECRET, mode="0400"):
    return {"dest": str(path), "content": content, "owner": UID, "group": GID, "mode": mode}


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_then_changes_nothing(tmp_path):
    dirs = [directory(tmp_path / "stack"), directory(tmp_path / "stack" / "secrets", "0700")]
    files = [secret(tmp_path / "stack" / "secrets" / "password"),
             {**secret(tmp_path / "stack" / "check.sh", "#!/bin/sh\nexit 0\n", "0644")}]
    first = run(dirs, files, check_mode=False)
    assert [c["path"] for c in first] == [d["path"] for d in dirs] + [f["dest"] for f in files]
    assert all(c["changes"] == ["created"] for c in first)
    assert (tmp_path / "stack" / "secrets" / "password").read_text() == SECRET
    assert mode_of(tmp_path / "stack" / "secrets") == 0o700 and mode_of(tmp_path / "stack") == 0o750
    assert mode_of(tmp_path / "stack" / "secrets" / "password") == 0o400
    assert run(dirs, files, check_mode=False) == []


def test_check_mode_predicts_and_writes_nothing(tmp_path):
    target = tmp_path / "new"
    changes = run([directory(target)], [secret(target / "password")], check_mode=True)
    assert changes == [{"path": str(target), "changes": ["created"]},
                       {"path": str(target / "password"), "changes": ["created"]}]
    assert not target.exists()


def test_content_and_mode_drift_are_repaired_and_named(tmp_path):
    path = tmp_path / "password"
    run([], [secret(path)], check_mode=False)
    path.chmod(0o644)
    assert run([], [secret(path)], check_mode=True) == [{"path": str(path), "changes": ["mode"]}]
    assert run([], [secret(path, "new-value")], check_mode=False) == [
        {"path": str(path), "changes": ["content", "mode"]}]
    assert path.read_text() == "new-value" and mode_of(path) == 0o400
    (tmp_path / "d").mkdir(mode=0o777)
    (tmp_path / "d").chmod(0o777)
    assert run([directory(tmp_path / "d")], [], check_mode=False) == [
        {"path": str(tmp_path / "d"), "changes": ["mode"]}]
    assert mode_of(tmp_path / "d") == 0o750


def test_a_rewrite_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "password"
    run([], [secret(path, "old")], check_mode=False)
    inode = os.stat(path).st_ino
    run([], [secret(path, "new")], check_mode=False)
    assert os.stat(path).st_ino != inode, "the new content must arrive by rename, not by rewriting in place"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["password"]


@pytest.mark.parametrize(("dirs", "files", "message"), [
    ([], [secret("relative/password")], "must be absolute"),
    ([directory("/tmp/x", "rwx")], [], "mode must be octal"),
    ([{**directory("/tmp/x"), "owner": "no-such-user-cc"}], [], "owner 'no-such-user-cc' does not exist"),
])
def test_bad_items_are_refused_naming_the_path(dirs, files, message):
    with pytest.raises(FileSetError, match=message):
        run(dirs, files, check_mode=True)


def test_a_file_in_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(FileSetError, match="its directory does not exist"):
        run([], [secret(tmp_path / "missing" / "password")], check_mode=False)


def test_a_symlink_is_not_followed(tmp_path):
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(FileSetError, match="symbolic link"):
        run([], [secret(tmp_path / "link")], check_mode=False)
    assert (tmp_path / "real").read_text() == "x"


def test_module_result_names_paths_and_never_the_content(tmp_path, capsys):
    args = {"directories": [directory(tmp_path / "s")], "files": [secret(tmp_path / "s" / "password")],
            "_ansible_diff": True}
    with patch_module_args(args), pytest.raises(SystemExit):
        file_set.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    assert result["changed"] is True
    assert [c["path"] for c in result["changed_paths"]] == [str(tmp_path / "s"), str(tmp_path / "s" / "password")]
    assert str(tmp_path / "s" / "password") in result["diff"][0]["after"]
    assert len(result["diff"]) == 1, "a secret's content gets no diff of its own"
    assert SECRET not in out


def text(path, body, mode="0644", **extra):
    return {"dest": str(path), "text": body, "owner": UID, "group": GID, "mode": mode, **extra}


def shell_validator(calls):
    """Runs a validate argv for real (the commands below are POSIX tools), recording each."""
    import subprocess

    def validate(argv):
        calls.append(argv)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr
    return validate


def test_a_checked_file_is_installed_only_when_its_check_accepts_it(tmp_path):
    path = tmp_path / "app.conf"
    check = "grep -q ^port= %s"
    calls = []
    assert run([], [text(path, "port=1\n", validate=check)], False, shell_validator(calls)) == [
        {"path": str(path), "changes": ["created"]}]
    assert path.read_text() == "port=1\n"
    # The check saw the candidate (a temporary file beside the target, with the final mode), not the target.
    assert len(calls) == 1 and calls[0][:2] == ["grep", "-q"] and calls[0][3] != str(path)
    assert os.path.dirname(calls[0][3]) == str(tmp_path)
    with pytest.raises(FileSetError, match=r"app\.conf: not installed, its check refused the new content \(exit 1\)"):
        run([], [text(path, "no port here\n", validate=check)], False, shell_validator(calls))
    assert path.read_text() == "port=1\n", "a refused file must leave the old one as it was"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.conf"], "no temporary file may be left"
    # Unchanged content: no check runs (a no-op costs nothing more); nor in check mode.
    calls.clear()
    assert run([], [text(path, "port=1\n", validate=check)], False, shell_validator(calls)) == []
    assert run([], [text(path, "port=2\n", validate=check)], True, shell_validator(calls)) == [
        {"path": str(path), "changes": ["content"]}]
    assert calls == []


def test_a_refusal_shows_what_the_check_printed(tmp_path):
    item = text(tmp_path / "x.conf", "a\n", validate="sh -c 'echo bad directive on line 1 >&2; exit 3' %s")
    with pytest.raises(FileSetError, match=r"exit 3\): bad directive on line 1"):
        run([], [item], False, shell_validator([]))


def test_a_validate_command_without_the_placeholder_is_refused(tmp_path):
    with pytest.raises(FileSetError, match="validate must contain %s"):
        run([], [text(tmp_path / "x", "a", validate="true")], False, shell_validator([]))


def test_exactly_one_of_content_and_text(tmp_path):
    with pytest.raises(FileSetError, match="exactly one of content"):
        run([], [{**secret(tmp_path / "x"), "text": "also"}], False)
    with pytest.raises(FileSetError, match="got neither"):
        run([], [{"dest": str(tmp_path / "x"), "owner": UID, "group": GID, "mode": "0644"}], False)


def test_text_files_get_a_content_diff_and_secrets_do_not(tmp_path):
    conf, password = tmp_path / "app.conf", tmp_path / "password"
    run([], [text(conf, "port=1\n"), secret(password)], False)
    diffs = []
    run([], [text(conf, "port=2\n"), secret(password, "another-secret-value")], False, diffs=diffs)
    assert diffs == [{"before_header": str(conf), "after_header": str(conf), "before": "port=1\n", "after": "port=2\n"}]


def test_absent_removes_files_and_refuses_directories(tmp_path):
    stale = tmp_path / "stale.conf"
    stale.write_text("x")
    assert run([], [], True, absent=[str(stale)]) == [{"path": str(stale), "changes": ["removed"]}]
    assert stale.exists(), "check mode removes nothing"
    assert run([], [], False, absent=[str(stale)]) == [{"path": str(stale), "changes": ["removed"]}]
    assert not stale.exists()
    assert run([], [], False, absent=[str(stale)]) == []
    with pytest.raises(FileSetError, match="is a directory"):
        run([], [], False, absent=[str(tmp_path)])


def test_module_masks_the_secrets_in_a_refusal(tmp_path, capsys):
    args = {"files": [text(tmp_path / "x.conf", "a\n", validate="sh -c 'echo leaked %s-" + SECRET + "; exit 1' %s")],
            "secrets": [SECRET]}
    with patch_module_args(args), pytest.raises(SystemExit):
        file_set.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "x.conf: not installed" in result["msg"]
    assert SECRET not in result["msg"] and "********" in result["msg"]


def test_force_false_creates_once_and_never_replaces_the_content(tmp_path):
    key = tmp_path / "host.key"
    assert run([], [{**secret(key, "first", "0600"), "force": False}], False) == [
        {"path": str(key), "changes": ["created"]}]
    assert run([], [{**secret(key, "second", "0600"), "force": False}], False) == []
    assert key.read_text() == "first", "an existing file's content is kept"
    key.chmod(0o644)
    assert run([], [{**secret(key, "third", "0600"), "force": False}], False) == [
        {"path": str(key), "changes": ["mode"]}]
    assert key.read_text() == "first" and mode_of(key) == 0o600
