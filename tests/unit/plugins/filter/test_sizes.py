# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""size_bytes: every unit system the roles write sizes in, read as its program reads it."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.sizes import UNITS, FilterModule, parse_size, size_bytes

KI, MI, GI, TI = 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4


@pytest.mark.parametrize(("value", "expected"), [
    ("512", 512), (512, 512), ("512b", 512), ("64k", 64 * KI), ("512m", 512 * MI), ("2g", 2 * GI),
    ("512M", 512 * MI), ("1G", GI), ("0m", 0),
])
def test_docker_units_are_powers_of_1024(value, expected):
    assert size_bytes(value) == expected
    assert size_bytes(value, "docker") == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("1000", 1000), ("1b", 1), ("1k", 1000), ("1kb", KI), ("1m", 1000 ** 2), ("1mb", MI), ("1g", 1000 ** 3),
    ("2gb", 2 * GI), ("512MB", 512 * MI), ("1Gb", GI), ("1gB", GI), ("1K", 1000),
])
def test_redis_units_follow_redis_conf(value, expected):
    """redis.conf: 1k => 1000 bytes, 1kb => 1024 bytes ... units are case insensitive."""
    assert size_bytes(value, "redis") == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("1B", 1), ("8kB", 8 * KI), ("512MB", 512 * MI), ("2GB", 2 * GI), ("1TB", TI),
])
def test_postgres_units_are_powers_of_1024(value, expected):
    assert size_bytes(value, "postgres") == expected


@pytest.mark.parametrize("value", ["16mb", "16Mb", "16kb", "16KB", "1gb", "1tb", "16 MB", "1.5GB"])
def test_postgres_units_are_case_sensitive(value):
    assert parse_size(value, "postgres") is None


def test_postgres_bare_numbers_need_the_parameter_s_base_unit():
    assert parse_size("65536", "postgres") is None
    assert parse_size(65536, "postgres") is None
    assert size_bytes("65536", "postgres", base=8192) == 512 * MI  # shared_buffers in 8kB pages
    assert size_bytes("16384", "postgres", base=1024) == 16 * MI  # work_mem in kB
    assert size_bytes("16MB", "postgres", base=1024) == 16 * MI  # a unit wins over the base


@pytest.mark.parametrize(("value", "expected"), [
    ("1024", 1024), ("1k", 1000), ("1K", 1000), ("1kb", KI), ("1KB", KI), ("1ki", KI), ("1KiB", KI),
    ("128MB", 128 * MI), ("128M", 128 * 1000 ** 2), ("1G", 1000 ** 3), ("1GB", GI), ("2gib", 2 * GI),
    ("1T", 1000 ** 4), ("1TB", TI), ("1p", 1000 ** 5), ("1e", 1000 ** 6), ("1EB", 1024 ** 6),
])
def test_nats_units_follow_nats_server(value, expected):
    """nats-server conf/parse.go: k, m, g, t, p, e are powers of 1000; kb/ki/kib ... powers of 1024; any case."""
    assert size_bytes(value, "nats") == expected


@pytest.mark.parametrize("units", sorted(UNITS))
@pytest.mark.parametrize("value", ["", "lots", "2 GB", " 1g", "1g ", "-1m", "1.5g", "1x", "m", None, True, [], {},
                                   "1gbb", -5])
def test_bad_input_is_not_a_size(units, value):
    assert parse_size(value, units) is None
    with pytest.raises(AnsibleFilterError, match=f"is not a {units} size"):
        size_bytes(value, units)


@pytest.mark.parametrize(("value", "units"), [("1tb", "redis"), ("1t", "docker"), ("1kib", "redis"), ("1kb", "docker"),
                                              ("1ti", "postgres"), ("1z", "nats")])
def test_units_of_another_system_are_refused(value, units):
    assert parse_size(value, units) is None


def test_error_names_the_value_and_the_expected_form():
    with pytest.raises(AnsibleFilterError) as err:
        size_bytes("2 GB")
    assert "'2 GB' is not a docker size" in str(err.value) and "512m" in str(err.value)
    assert "commandcenter.infra.size('docker')" in str(err.value)


def test_unknown_units_or_base_is_an_error():
    with pytest.raises(AnsibleFilterError, match="unknown units 'k8s'"):
        size_bytes("1g", "k8s")
    with pytest.raises(AnsibleFilterError, match="base must be a positive whole number"):
        size_bytes("1", "postgres", base=0)
    with pytest.raises(ValueError, match="unknown units"):
        parse_size("1g", "k8s")


def test_filter_is_registered():
    assert FilterModule().filters()["size_bytes"] is size_bytes
