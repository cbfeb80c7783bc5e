# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The input tests of preflight checks: true or false for any input, never an error."""
import pytest
from ansible.errors import AnsibleError

from ansible_collections.commandcenter.infra.plugins.filter.sizes import parse_size
from ansible_collections.commandcenter.infra.plugins.test import inputs
from ansible_collections.commandcenter.infra.plugins.test.inputs import abs_path, dns_name, port, size

ODD = [None, True, False, [], {}, 1.5, object()]


@pytest.mark.parametrize("value", [1, 22, 4222, 65535, "1", "4222", "65535"])
def test_ports(value):
    assert port(value) is True


@pytest.mark.parametrize("value", [0, 65536, -1, "0", "70000", "-1", "http", "42 22", " 4222", "4222.0", "", *ODD])
def test_not_ports(value):
    assert port(value) is False


@pytest.mark.parametrize(("value", "units"), [("512m", "docker"), ("1g", "docker"), (1024, "docker"), ("2gb", "redis"),
                                              ("512MB", "postgres"), ("1G", "nats"), ("128MB", "nats")])
def test_sizes(value, units):
    assert size(value, units) is True


@pytest.mark.parametrize(("value", "units"), [("2 GB", "docker"), ("lots", "docker"), ("16mb", "postgres"),
                                              ("1tb", "redis"), ("512 MB", "nats"), *[(v, "docker") for v in ODD]])
def test_not_sizes(value, units):
    assert size(value, units) is False


def test_size_is_exactly_what_size_bytes_converts():
    for units in ("docker", "redis", "postgres", "nats"):
        for value in ("1", "1b", "1B", "1k", "1kb", "1kB", "1KiB", "1m", "1mb", "1MB", "1g", "1gb", "1GB", "1t", "1TB"):
            assert size(value, units) is (parse_size(value, units) is not None), (value, units)


def test_size_default_units_are_docker_and_base_is_passed():
    assert size("512m") is True and size("512mb") is False
    assert size("65536", "postgres") is False
    assert size("65536", "postgres", 8192) is True


def test_size_with_unknown_units_is_an_error():
    with pytest.raises(AnsibleError, match="unknown units"):
        size("1g", "k8s")


@pytest.mark.parametrize("value", ["localhost", "postgres", "api.example.org", "a-b.c1.example.com", "xn--bcher-kva.de",
                                   "Example.ORG", "1password.com", "a" * 63 + ".org", ".".join(["a" * 61] * 4)])
def test_dns_names(value):
    assert dns_name(value) is True


@pytest.mark.parametrize("value", ["", "Command_Center", "bad host", "-a.org", "a-.org", "a..org", "example.org.",
                                   ".org", "a" * 64 + ".org", ".".join(["a" * 63] * 4), "10.0.0.1", "*.example.org",
                                   "exa mple.org", *ODD])
def test_not_dns_names(value):
    assert dns_name(value) is False


def test_dns_name_min_labels():
    assert dns_name("localhost", min_labels=2) is False
    assert dns_name("unit.example.org", min_labels=2) is True
    assert dns_name("unit.example.org", 4) is False


@pytest.mark.parametrize("value", ["/opt", "/opt/commandcenter/redis/data", "/a/b.c/d-e_f", "/x/.hidden"])
def test_abs_paths(value):
    assert abs_path(value) is True


@pytest.mark.parametrize("value", ["", "/", "data", "./data", "/opt/", "/opt//x", "/opt/./x", "/opt/../etc", "/opt/a b",
                                   "/opt/a\nb", "/opt/a\tb", "~/x", *ODD])
def test_not_abs_paths(value):
    assert abs_path(value) is False


def test_tests_are_registered():
    # (the class is imported through its module: pytest would collect a Test* name as a test class)
    assert inputs.TestModule().tests() == {"port": port, "size": size, "dns_name": dns_name, "abs_path": abs_path}
