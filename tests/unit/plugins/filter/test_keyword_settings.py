# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.keyword_settings import FilterModule, keyword_settings

LOGIN_DEFS = """# /etc/login.defs
#UMASK 022
MAIL_DIR        /var/mail
PASS_MAX_DAYS\t99999
PASS_MIN_DAYS\t0
ENCRYPT_METHOD YESCRYPT
PASS_MAX_DAYS 12
"""


def test_sets_existing_keywords_in_place_keeping_alignment_and_comments():
    out = keyword_settings(LOGIN_DEFS, {"PASS_MAX_DAYS": 365, "PASS_MIN_DAYS": "1"})
    assert out.splitlines() == ["# /etc/login.defs", "#UMASK 022", "MAIL_DIR        /var/mail", "PASS_MAX_DAYS\t365",
                                "PASS_MIN_DAYS\t1", "ENCRYPT_METHOD YESCRYPT"]


def test_appends_missing_keywords_and_ignores_commented_ones():
    out = keyword_settings(LOGIN_DEFS, {"UMASK": "027"})
    assert out.endswith("UMASK\t027\n") and "#UMASK 022" in out


def test_is_idempotent():
    once = keyword_settings(LOGIN_DEFS, {"UMASK": "027", "PASS_MAX_DAYS": 365})
    assert keyword_settings(once, {"UMASK": "027", "PASS_MAX_DAYS": 365}) == once


def test_empty_text_gives_only_the_settings():
    assert keyword_settings("", {"A": 1}) == "A\t1\n"


@pytest.mark.parametrize("text, settings", [(None, {}), ("x", ["A"]), ("x", {"BAD KEY": 1}), ("x", {"A": "1\nB 2"})])
def test_bad_input_is_refused(text, settings):
    with pytest.raises(AnsibleFilterError, match="keyword_settings"):
        keyword_settings(text, settings)


def test_filter_is_registered():
    assert FilterModule().filters()["keyword_settings"] is keyword_settings
