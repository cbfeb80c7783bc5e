#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: file_set
short_description: Ensure a set of directories and files (content, owner, group, mode, a check) in one call
version_added: 0.1.0
author:
  - CommandCenter platform team (@commandcenter)
description:
  - Ensures every directory of O(directories) and every file of O(files) on the target in one module call, where
    M(ansible.builtin.file) and M(ansible.builtin.copy) in a loop make one or two calls an item (a no-op run of a
    stack's directories, checker scripts and secret files then costs one call instead of eight to twelve).
  - A directory is created when missing (with its missing parents, mode C(0755), owned by root), then given its owner,
    group and mode. A file is written when its content differs, through a temporary file in the same directory
    (created with mode C(0600)) renamed over it, so a reader never sees a partial file nor a secret with a wider mode;
    its owner, group and mode are then set. Directories are handled first, in order, then files, in order.
  - A file with a O(files[].validate) command is checked before it replaces the old one. The command runs on the
    temporary file (already with its owner, group and mode); when it fails, the temporary file is removed, the old file
    stays as it was, and the module fails naming the file and showing what the command printed. The check runs only
    when the content changes (not in check mode), as with M(ansible.builtin.template).
  - The content of a file given as O(files[].content) is treated as a secret (C(no_log)); it never appears in the result,
    in a diff or in the log. A file given as O(files[].text) holds no secret; C(--diff) shows its old and new content.
    The result names the paths that changed and what changed about each.
  - Meant for the files of one service, whose content Ansible holds (rendered templates
    with P(ansible.builtin.template#lookup), secrets, scripts read with a file lookup). One call for all of them is what
    keeps a run that changes nothing cheap.
options:
  directories:
    description:
      - Directories to ensure.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory.
        type: path
        required: true
      owner:
        description: User name or numeric uid.
        type: str
        default: '0'
      group:
        description: Group name or numeric gid.
        type: str
        default: '0'
      mode:
        description: Octal mode, for example V('0755').
        type: str
        required: true
  files:
    description:
      - Files to ensure. Their directory must exist (list it in O(directories)).
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description:
          - The whole content of the file (written as UTF-8), a secret; never shown.
          - Exactly one of O(files[].content) and O(files[].text) is required.
        type: str
      text:
        description:
          - The whole content of a file that holds no secret (written as UTF-8); C(--diff) shows it.
          - It appears in the module's arguments at C(-vvv), like any option that is not a secret.
        type: str
      force:
        description:
          - V(false) writes the file only when it does not exist (a key generated once, never replaced); the content of
            an existing file is kept as it is. Its owner, group and mode are enforced either way.
        type: bool
        default: true
      validate:
        description:
          - A command that checks the new content before it is installed, with V(%s) where the path of the temporary
            file goes (for example V(dockerd --validate --config-file %s)). Split like a shell word list; no shell.
        type: str
      owner:
        description: User name or numeric uid.
        type: str
        default: '0'
      group:
        description: Group name or numeric gid.
        type: str
        default: '0'
      mode:
        description: Octal mode, for example V('0400').
        type: str
        required: true
  absent:
    description:
      - Files to remove when present (after the directories and files are ensured). A directory here is refused.
    type: list
    elements: path
    default: []
  secrets:
    description:
      - Values that must never appear in the module's output, for example in what a O(files[].validate) command prints
        when it refuses a file. Ansible replaces each of them with V(********).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Reports what would change; nothing is written.
  diff_mode:
    support: partial
    description:
      - The diff lists the paths that change and what changes about each; then the old and new content of each file
        given as O(files[].text) whose content changes. A secret's content (O(files[].content)) is never shown.
  idempotent:
    support: full
    description: A second run with the same items changes nothing.
notes:
  - The target must run as root (or as the owner of every path) to set owners.
"""

EXAMPLES = r"""
- name: Ensure the stack's directories, checker script and secret files
  commandcenter.infra.file_set:
    directories:
      - {path: /opt/commandcenter/redis, mode: '0755'}
      - {path: /opt/commandcenter/redis/secrets, mode: '0700'}
    files:
      - dest: /opt/commandcenter/redis/secrets/redis_app_password
        content: "{{ redis_app_password }}"
        owner: '999'
        group: '999'
        mode: '0400'
  no_log: true

- name: Ensure redis.conf is rendered and accepted by redis-server, in the same call as its secrets
  commandcenter.infra.file_set:
    files:
      - dest: /opt/commandcenter/redis/secrets/redis_app_password
        content: "{{ redis_app_password }}"
        mode: '0400'
      - dest: /opt/commandcenter/redis/config/redis.conf
        text: "{{ lookup('ansible.builtin.template', 'redis.conf.j2') }}"
        mode: '0644'
        validate: docker run --rm -v %s:/check/redis.conf:ro redis:8 redis-server /check/redis.conf --test-memory 0
    absent:
      - /opt/commandcenter/redis/secrets/an_old_password
    secrets: ["{{ redis_app_password }}"]
"""

RETURN = r"""
changed_paths:
  description: Each path that changed (or would change, in check mode), with what changed about it.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The directory or file.
      type: str
    changes:
      description: What changed, among V(created), V(content), V(owner), V(group), V(mode), V(removed).
      type: list
      elements: str
  sample: [{"path": "/opt/commandcenter/redis/secrets/redis_app_password", "changes": ["content"]}]
"""

import grp
import os
import pwd
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

_OWNER_OPTIONS = dict(owner=dict(type="str", default="0"), group=dict(type="str", default="0"),
                      mode=dict(type="str", required=True))


class FileSetError(Exception):
    """A bad item or a failed change, with a message that names the path."""


def parse_mode(value, path):
    """An octal mode string (e.g. '0755') as an int, or an error naming the path."""
    try:
        mode = int(str(value), 8)
    except ValueError:
        raise FileSetError("%s: mode must be octal digits such as '0755', got %r" % (path, value)) from None
    if mode < 0 or mode > 0o7777:
        raise FileSetError("%s: mode %r is out of range" % (path, value))
    return mode


def resolve_id(value, path, kind):
    """A uid (kind 'owner') or gid (kind 'group') from a number or a name."""
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid if kind == "owner" else grp.getgrnam(text).gr_gid
    except KeyError:
        raise FileSetError("%s: %s %r does not exist on the host" % (path, kind, text)) from None


def wanted_attributes(item, path):
    return (resolve_id(item["owner"], path, "owner"), resolve_id(item["group"], path, "group"),
            parse_mode(item["mode"], path))


def attribute_changes(st, uid, gid, mode):
    changes = []
    if st.st_uid != uid:
        changes.append("owner")
    if st.st_gid != gid:
        changes.append("group")
    if stat.S_IMODE(st.st_mode) != mode:
        changes.append("mode")
    return changes


def set_attributes(path, uid, gid, mode):
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def ensure_directory(item, check_mode):
    """The changes the directory needs (made unless check_mode)."""
    path = item["path"]
    if not os.path.isabs(path):
        raise FileSetError("%s: a directory path must be absolute" % path)
    uid, gid, mode = wanted_attributes(item, path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise FileSetError("%s: exists and is not a directory" % path)
    if not os.path.isdir(path):
        if not check_mode:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            os.mkdir(path, 0o700)
            set_attributes(path, uid, gid, mode)
        return ["created"]
    changes = attribute_changes(os.stat(path), uid, gid, mode)
    if changes and not check_mode:
        set_attributes(path, uid, gid, mode)
    return changes


def file_content(item, path):
    """The wanted content as bytes: exactly one of content (a secret) and text."""
    given = [key for key in ("content", "text") if item.get(key) is not None]
    if len(given) != 1:
        raise FileSetError("%s: give exactly one of content (a secret) and text, got %s"
                           % (path, " and ".join(given) or "neither"))
    return to_bytes(item[given[0]], errors="surrogate_or_strict")


def check_candidate(item, tmp, validator):
    """Run the item's validate command on the temporary file; an error naming the file when it refuses it."""
    command = item.get("validate")
    if not command:
        return
    if "%s" not in command:
        raise FileSetError("%s: validate must contain %%s (where the temporary file's path goes), got %r"
                           % (item["dest"], command))
    argv = [tmp if word == "%s" else word.replace("%s", tmp) for word in shlex.split(command)]
    rc, out, err = validator(argv)
    if rc != 0:
        printed = " ".join(part.strip() for part in (out, err) if part and part.strip())
        raise FileSetError("%s: not installed, its check refused the new content (exit %s): %s"
                           % (item["dest"], rc, printed or "(the check printed nothing)"))


def ensure_file(item, check_mode, validator=None):
    """The changes the file needs (made unless check_mode), and the old content when it changes."""
    path = item["dest"]
    if not os.path.isabs(path):
        raise FileSetError("%s: a file path must be absolute" % path)
    uid, gid, mode = wanted_attributes(item, path)
    content = file_content(item, path)
    if os.path.isdir(path):
        raise FileSetError("%s: is a directory" % path)
    exists = os.path.lexists(path)
    if exists and os.path.islink(path):
        raise FileSetError("%s: is a symbolic link; this module writes regular files only" % path)
    old = None
    if exists and not item.get("force", True):
        changes = attribute_changes(os.stat(path), uid, gid, mode)
    elif exists:
        with open(path, "rb") as handle:
            old = handle.read()
        changes = [] if old == content else ["content"]
        changes += attribute_changes(os.stat(path), uid, gid, mode)
    else:
        changes = ["created"]
    if check_mode or not changes:
        return changes, old
    if not exists and not os.path.isdir(os.path.dirname(path)):
        raise FileSetError("%s: its directory does not exist (list it in directories)" % path)
    if "content" in changes or "created" in changes:
        handle, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            set_attributes(tmp, uid, gid, mode)
            if validator is not None:
                check_candidate(item, tmp, validator)
            os.rename(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    else:
        set_attributes(path, uid, gid, mode)
    return changes, old


def ensure_absent(path, check_mode):
    """['removed'] when the file was there (removed unless check_mode)."""
    if not os.path.isabs(path):
        raise FileSetError("%s: a path to remove must be absolute" % path)
    if os.path.isdir(path) and not os.path.islink(path):
        raise FileSetError("%s: is a directory; absent removes files only" % path)
    if not os.path.lexists(path):
        return []
    if not check_mode:
        os.unlink(path)
    return ["removed"]


def run(directories, files, check_mode, validator=None, absent=(), diffs=None):
    """Every change, as [{path, changes}], in the order made. With a list as diffs, the old and new
    content of each changed file given as text is appended to it (as Ansible's diff dicts)."""
    changed = []
    for item in directories:
        changes = ensure_directory(item, check_mode)
        if changes:
            changed.append({"path": item["path"], "changes": changes})
    for item in files:
        changes, old = ensure_file(item, check_mode, validator)
        if changes:
            changed.append({"path": item["dest"], "changes": changes})
            if diffs is not None and item.get("text") is not None and ("content" in changes or "created" in changes):
                diffs.append(dict(before_header=item["dest"], after_header=item["dest"],
                                  before=(old or b"").decode("utf-8", "replace"), after=item["text"]))
    for path in absent:
        changes = ensure_absent(path, check_mode)
        if changes:
            changed.append({"path": path, "changes": changes})
    return changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type="list", elements="dict", default=[],
                             options=dict(path=dict(type="path", required=True), **_OWNER_OPTIONS)),
            files=dict(type="list", elements="dict", default=[],
                       options=dict(dest=dict(type="path", required=True), content=dict(type="str", no_log=True),
                                    text=dict(type="str"), force=dict(type="bool", default=True),
                                    validate=dict(type="str"), **_OWNER_OPTIONS),
                       mutually_exclusive=[("content", "text")], required_one_of=[("content", "text")]),
            absent=dict(type="list", elements="path", default=[]),
            secrets=dict(type="list", elements="str", default=[], no_log=True),
        ),
        supports_check_mode=True,
    )

    def validator(argv):
        return module.run_command(argv)

    diffs = [] if module._diff else None
    try:
        changed = run(module.params["directories"], module.params["files"], module.check_mode, validator,
                      module.params["absent"], diffs)
    except (FileSetError, OSError) as exc:
        module.fail_json(msg="file_set: %s" % exc)
    result = dict(changed=bool(changed), changed_paths=changed)
    if module._diff and changed:
        summary = dict(before_header="file_set", after_header="file_set", before="",
                       after="".join("%s: %s\n" % (c["path"], ", ".join(c["changes"])) for c in changed))
        result["diff"] = [summary] + diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
