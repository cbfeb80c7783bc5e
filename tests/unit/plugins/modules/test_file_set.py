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
    assert str(tmp_path / "s" / "password") in result["diff"]["after"]
    assert SECRET not in out
