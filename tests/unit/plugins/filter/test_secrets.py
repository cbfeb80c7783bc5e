# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.secrets import (
    MIN_LENGTH,
    FilterModule,
    secret_problems,
    url_credentials,
)


@pytest.mark.parametrize("value", ["changeme", "CHANGE_ME", "change-me", "Password", "<redis password>",
                                   "set-me-with-ansible-vault", "xxxxxxxxxxxxxx", "secret", "******"])
def test_placeholders_are_refused(value):
    assert secret_problems({"redis_password": value}) == ["redis_password: is a placeholder, set a real secret"]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_is_refused(value):
    assert secret_problems({"pg_pw": value}) == ["pg_pw: not set (define it in the inventory's vault)"]


def test_short_is_refused_and_length_is_settable():
    assert secret_problems({"a": "s3cr3t-ok"}) == ["a: shorter than 16 characters"]
    assert secret_problems({"a": "s3cr3t-ok"}, min_length=8) == []


def test_the_collection_s_one_minimum_is_16():
    """Every role uses the default: 15 characters are refused everywhere, 16 accepted everywhere."""
    assert MIN_LENGTH == 16
    assert secret_problems({"a": "Zq8#vW2!pLr5-tY"}) == ["a: shorter than 16 characters"]
    assert secret_problems({"a": "Zq8#vW2!pLr5-tYu"}) == []


def test_good_secrets_pass_and_values_never_appear():
    good = {"one": "Zq8#vW2!pLr5-tYu", "two": "correct horse battery staple"}
    assert secret_problems(good) == []
    problems = secret_problems({"bad": "changeme-now", "short": "abc123", **good})
    assert problems == ["bad: is a placeholder, set a real secret", "short: shorter than 16 characters"]
    assert not any(v in " ".join(problems) for v in ("changeme-now", "abc123"))


def test_non_dict_input_is_an_error():
    with pytest.raises(AnsibleFilterError, match="expects a dict"):
        secret_problems(["changeme"])


def test_filter_is_registered():
    assert FilterModule().filters()["secret_problems"] is secret_problems


def test_url_credentials_are_decoded_as_the_app_role_encodes_them():
    assert url_credentials("postgresql+psycopg://commandcenter_next:p%40ss%2Fw%3Ard@postgres:5432/commandcenter") == {
        "user": "commandcenter_next", "password": "p@ss/w:rd"}
    assert url_credentials("nats://nats:4222") == {"user": "", "password": ""}


def test_url_credentials_error_never_shows_the_url():
    with pytest.raises(AnsibleFilterError) as error:
        url_credentials("redis://u:hunter2hunter2@[::1")
    assert "hunter2" not in str(error.value)
    with pytest.raises(AnsibleFilterError):
        url_credentials(None)
