# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""size_bytes: a size string of Docker, Redis, PostgreSQL or NATS in bytes.

Documentation for ``ansible-doc -t filter`` lives in ``size_bytes.yml`` next to
this file. The parser is shared with the ``size`` test (plugins/test/inputs.py),
so a value the test accepts is exactly a value this filter converts.

Each unit system is the one of the program that reads the value, so the number
of bytes is what that program will use:

- ``docker``: compose ``mem_limit``/``shm_size`` and log-opt sizes; a whole number
  with an optional ``b``, ``k``, ``m`` or ``g`` (any case), powers of 1024.
- ``redis``: redis.conf memory values (``memtoll``): ``b``, ``k`` = 1000,
  ``kb`` = 1024, ``m`` = 1000^2, ``mb`` = 1024^2, ``g`` = 1000^3, ``gb`` = 1024^3, any case.
- ``postgres``: memory parameters; ``B``, ``kB``, ``MB``, ``GB``, ``TB`` (case matters),
  powers of 1024. A bare number is in the parameter's base unit, so it is a size
  only when that unit is given as ``base`` (8192 for shared_buffers, 1024 for work_mem).
- ``nats``: nats-server configuration numbers: ``k``, ``m``, ``g``, ``t``, ``p``, ``e`` are
  powers of 1000; ``kb``/``ki``/``kib`` ... ``eb``/``ei``/``eib`` powers of 1024; any case.

Only whole numbers, no sign, no blanks: the roles write the value into the
program's configuration as it is, so it must be what that program parses.
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_NUMBER = re.compile(r"^([0-9]+)([A-Za-z]*)$")


def _powers(names_1000, names_1024):
    table = {}
    for exp, names in enumerate(names_1000, start=1):
        for name in names:
            table[name] = 1000 ** exp
    for exp, names in enumerate(names_1024, start=1):
        for name in names:
            table[name] = 1024 ** exp
    return table


# units -> (multipliers by unit, case-sensitive?, description for messages)
UNITS = {
    "docker": ({"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}, False,
               "a whole number with an optional unit b, k, m or g (powers of 1024), like 512m or 1g"),
    "redis": ({"": 1, "b": 1, **_powers([["k"], ["m"], ["g"]], [["kb"], ["mb"], ["gb"]])}, False,
              "a whole number of bytes with an optional unit kb, mb, gb (powers of 1024) or k, m, g "
              "(powers of 1000), like 512mb or 2gb"),
    "postgres": ({"B": 1, "kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}, True,
                 "a whole number with a unit B, kB, MB, GB or TB (case matters), like 512MB"),
    "nats": ({"": 1, **_powers([[u] for u in "kmgtpe"], [[u + "b", u + "i", u + "ib"] for u in "kmgtpe"])}, False,
             "a whole number with an optional unit K, M, G (powers of 1000) or KB, MB, GB (powers of 1024), "
             "like 512MB or 1GB"),
}


def parse_size(value, units="docker", base=None):
    """Bytes of ``value`` in the unit system ``units``, or None when it is not such a size.

    ``base`` (bytes) is the unit of a bare number; by default a bare number is bytes,
    except for ``postgres``, where a bare number is a size only when ``base`` is given.
    An int (not a bool) counts as a bare number. An unknown ``units`` is a ValueError.
    """
    if units not in UNITS:
        raise ValueError(f"unknown units {units!r}: use one of {', '.join(UNITS)}")
    table, case_sensitive = UNITS[units][:2]
    if base is not None and (isinstance(base, bool) or not isinstance(base, int) or base < 1):
        raise ValueError(f"base must be a positive whole number of bytes, got {base!r}")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number, unit = value, ""
        if number < 0:
            return None
    elif isinstance(value, str):
        match = _NUMBER.match(value)
        if not match:
            return None
        number, unit = int(match.group(1)), match.group(2)
    else:
        return None
    if unit == "":
        if base is not None:
            return number * base
        return number if "" in table else None
    multiplier = table.get(unit if case_sensitive else unit.lower())
    return None if multiplier is None else number * multiplier


def describe(units="docker"):
    """What a size of the unit system ``units`` looks like, for messages."""
    if units not in UNITS:
        raise ValueError(f"unknown units {units!r}: use one of {', '.join(UNITS)}")
    return UNITS[units][2]


def size_bytes(value, units="docker", base=None):
    """Return the number of bytes of a size string; an error when it is not a size of ``units``."""
    try:
        result = parse_size(value, units, base)
    except ValueError as exc:
        raise AnsibleFilterError(f"size_bytes: {exc}") from exc
    if result is None:
        raise AnsibleFilterError(f"size_bytes: {value!r} is not a {units} size ({describe(units)}); "
                                 f"test it first with `is commandcenter.infra.size('{units}')`")
    return result


class FilterModule:
    """Sizes in bytes."""

    def filters(self):
        return {"size_bytes": size_bytes}
