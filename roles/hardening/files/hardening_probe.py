# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The hardening role's view of a host, in one call: what the role compares with what it wants.

Run by the role as ``python3 -c <this file> <json>``; prints one JSON document. Reads only.
The argument names what to look at: sysctl keys, the firewall's table, units, programs
whose SUID bit the role strips, the users who must keep SSH access, mount points, and
whether to search the file systems for world-writable files and unexpected SUID programs.
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import subprocess
import sys

# File systems whose content is not the host's files.
PSEUDO_FS = {"proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "cgroup", "cgroup2", "overlay", "nsfs", "securityfs",
             "debugfs", "tracefs", "fusectl", "configfs", "mqueue", "hugetlbfs", "bpf", "pstore", "autofs",
             "binfmt_misc", "efivarfs", "squashfs", "fuse.lxcfs", "nfs", "nfs4", "cifs"}


def run(*argv: str) -> tuple[int, str]:
    """Exit status and standard output of a command; 127 when the program is missing."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError:
        return 127, ""
    return done.returncode, done.stdout


def sysctl_values(keys: list[str]) -> dict:
    """Current value of each key (None: unknown to this kernel), read from /proc/sys."""
    values = {}
    for key in keys:
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, encoding="ascii") as handle:
                values[key] = " ".join(handle.read().split())
        except OSError:
            values[key] = None
    return values


def units(names: list[str]) -> dict:
    """Whether each unit is enabled and active."""
    if not names:
        return {}
    enabled = run("systemctl", "is-enabled", *names)[1]
    active = run("systemctl", "is-active", *names)[1]
    enabled_lines = enabled.splitlines() + [""] * len(names)
    active_lines = active.splitlines() + [""] * len(names)
    return {name: {"enabled": enabled_lines[i].strip() in ("enabled", "static", "alias"),
                   "active": active_lines[i].strip() == "active"} for i, name in enumerate(names)}


def nft_comment(table: str) -> str | None:
    """The comment of the firewall's table; None when the table (or nft) is missing."""
    code, out = run("nft", "-j", "list", "table", "inet", table)
    if code != 0:
        return None
    for item in json.loads(out).get("nftables", []):
        if "table" in item:
            return item["table"].get("comment", "")
    return None


def user_access(names: list[str], key_files: list[str]) -> dict:
    """For each user: exists, groups, whether an authorized_keys file holds a key."""
    users = {}
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            users[name] = {"exists": False, "groups": [], "has_key": False}
            continue
        groups = {grp.getgrgid(entry.pw_gid).gr_name} | {g.gr_name for g in grp.getgrall() if name in g.gr_mem}
        has_key = False
        for pattern in key_files:
            path = pattern.replace("%h", entry.pw_dir).replace("%u", name).replace("%%", "%")
            path = path if path.startswith("/") else os.path.join(entry.pw_dir, path)
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    has_key = has_key or any(line.strip() and not line.lstrip().startswith("#") for line in handle)
            except OSError:
                pass
        users[name] = {"exists": True, "groups": sorted(groups), "has_key": has_key}
    return users


def mounts(paths: list[str]) -> dict:
    """Options of each path that is a tmpfs mount point; None for any other path (a /tmp on a disk
    partition is left alone: the role writes tmpfs entries to /etc/fstab only)."""
    found = dict.fromkeys(paths)
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) >= 4 and fields[1] in found and fields[2] == "tmpfs":
                found[fields[1]] = fields[3].split(",")
    return found


def fstab(paths: list[str]) -> dict:
    """Options of each path's /etc/fstab entry; None for a path without one."""
    found = dict.fromkeys(paths)
    try:
        with open("/etc/fstab", encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 4 and not fields[0].startswith("#") and fields[1] in found:
                    found[fields[1]] = fields[3].split(",")
    except OSError:
        pass
    return found


def apt_security_elsewhere(own: str) -> bool:
    """Whether an apt source other than the role's own names Debian's security archive."""
    paths = ["/etc/apt/sources.list"]
    try:
        paths += [os.path.join("/etc/apt/sources.list.d", n) for n in sorted(os.listdir("/etc/apt/sources.list.d"))
                  if n.endswith((".list", ".sources")) and os.path.join("/etc/apt/sources.list.d", n) != own]
    except OSError:
        pass
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                if any("-security" in line and not line.lstrip().startswith("#") for line in handle):
                    return True
        except OSError:
            continue
    return False


def file_audit(skip: list[str], allowed_suid: list[str]) -> dict:
    """World-writable files (not sticky directories) and SUID/SGID programs not allowed, on local file systems."""
    local = []
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) >= 3 and fields[2] not in PSEUDO_FS:
                local.append(fields[1])
    if "/" not in local:
        local.append("/")
    skip_set = set(skip)
    writable, suid = [], []
    for top in sorted(set(local)):
        if any(top == s or top.startswith(s.rstrip("/") + "/") for s in skip_set):
            continue
        device = os.lstat(top).st_dev
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip_set
                       and os.lstat(os.path.join(root, d)).st_dev == device]
            for name in files + dirs:
                path = os.path.join(root, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISLNK(info.st_mode):
                    continue
                if info.st_mode & stat.S_IWOTH and not (stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX):
                    writable.append(path)
                if stat.S_ISREG(info.st_mode) and info.st_mode & (stat.S_ISUID | stat.S_ISGID) and path not in allowed_suid:
                    suid.append(path)
    return {"world_writable": sorted(writable)[:50], "unexpected_suid": sorted(suid)[:50]}


def statoverrides() -> set[str]:
    """The paths dpkg-statoverride pins (owner, group, mode kept across package upgrades)."""
    try:
        with open("/var/lib/dpkg/statoverride", encoding="utf-8") as handle:
            fields = [line.strip().split(maxsplit=3) for line in handle]
        return {entry[3] for entry in fields if len(entry) == 4}
    except OSError:
        return set()


def main() -> None:
    want = json.loads(sys.argv[1])
    found = {
        "sysctl": sysctl_values(want.get("sysctl", [])),
        "units": units(want.get("units", [])),
        "nft_comment": nft_comment(want["nft_table"]) if want.get("nft_table") else None,
        "users": user_access(want.get("users", []), want.get("key_files", [".ssh/authorized_keys"])),
        "mounts": mounts(want.get("mounts", [])),
        "suid_set": [p for p in want.get("suid_strip", [])
                     if os.path.isfile(p) and os.stat(p).st_mode & (stat.S_ISUID | stat.S_ISGID)],
        # Stripped, but with no dpkg-statoverride entry: the next upgrade of the package
        # would set the bit again.
        "suid_unpinned": [p for p in want.get("suid_strip", []) if os.path.isfile(p) and p not in statoverrides()],
        "host_keys": [t for t in want.get("host_key_types", []) if os.path.exists(f"/etc/ssh/ssh_host_{t}_key")],
        "container": run("systemd-detect-virt", "--container")[1].strip() or "none",
        "fstab": fstab(want.get("mounts", [])),
        "crontab_mode": oct(os.stat("/etc/crontab").st_mode & 0o7777)[2:].zfill(4) if os.path.isfile("/etc/crontab") else None,
        "apt_security_elsewhere": apt_security_elsewhere(want.get("apt_security_own", "")),
        "aide_db": os.path.exists("/var/lib/aide/aide.db"),
        "pam_faillock": False,
        "login_defs": "",
    }
    try:
        with open("/etc/pam.d/common-auth", encoding="utf-8") as handle:
            found["pam_faillock"] = "pam_faillock.so" in handle.read()
    except OSError:
        pass
    try:
        with open("/etc/login.defs", encoding="utf-8") as handle:
            found["login_defs"] = handle.read()
    except OSError:
        pass
    if want.get("file_audit"):
        found.update(file_audit(want.get("file_audit_skip", []), want.get("suid_allowed", [])))
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main()
