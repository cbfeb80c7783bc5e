# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
import hashlib
import hmac as std_hmac
import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import get_encrypted_password
from passlib.hash import bcrypt

from ansible_collections.commandcenter.infra.plugins.filter.hmac import FilterModule, bcrypt_salt, hmac

KEY = "0123456789abcdef" * 4  # 64 hex digits, as the host key file holds


def test_hex_is_hmac_sha256_of_the_utf8_value():
    expected = std_hmac.new(KEY.encode(), "cc_monitor:pässword".encode(), hashlib.sha256).hexdigest()
    assert hmac("cc_monitor:pässword", KEY) == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_it_is_not_the_plain_hash_and_depends_on_the_key():
    value = "s3cr3t-value-Qm7xT2vL9k"
    plain = {hashlib.sha256(value.encode()).hexdigest(), hashlib.sha1(value.encode()).hexdigest(),
             hashlib.md5(value.encode()).hexdigest()}
    assert hmac(value, KEY) not in plain
    assert hmac(value, KEY) != hmac(value, KEY[::-1])
    assert hmac(value, KEY) == hmac(value, KEY), "the same key and value must give the same hash (idempotence)"


def test_bytes_and_numbers_are_accepted():
    assert hmac(b"abc", KEY.encode()) == hmac("abc", KEY)
    assert hmac(6379, KEY) == hmac("6379", KEY)


@pytest.mark.parametrize("key", ["", "short", None])
def test_an_empty_or_short_key_is_an_error(key):
    with pytest.raises(AnsibleFilterError, match="hmac: the key"):
        hmac("value", key)


def test_other_inputs_and_encodings_are_errors():
    with pytest.raises(AnsibleFilterError, match="input must be a string"):
        hmac(["a"], KEY)
    with pytest.raises(AnsibleFilterError, match="encoding must be one of"):
        hmac("a", KEY, encoding="base64")


@pytest.mark.parametrize("value", ["commandcenter.infra.nats:commandcenter", "commandcenter.infra.traefik:admin", "",
                                   "x" * 200])
def test_bcrypt_salt_is_22_chars_of_bcrypts_alphabet_with_clean_padding(value):
    salt = hmac(value, KEY, encoding="bcrypt_salt")
    assert re.fullmatch(r"[./A-Za-z0-9]{21}[.Oeu]", salt), salt
    assert salt == hmac(value, KEY, encoding="bcrypt_salt")
    # passlib takes it as it is (no "padding bits" warning, no correction): the hash carries this very salt.
    with_salt = bcrypt.using(salt=salt, rounds=4, ident="2b").hash("pw")
    assert with_salt[7:29] == salt and bcrypt.verify("pw", with_salt)


def test_bcrypt_salt_encodes_the_first_16_bytes_of_the_digest():
    assert bcrypt_salt(bytes(16)) == "." * 22
    assert bcrypt_salt(b"\xff" * 32) == "9" * 21 + "u"
    digest = std_hmac.new(KEY.encode(), b"u", hashlib.sha256).digest()
    assert hmac("u", KEY, encoding="bcrypt_salt") == bcrypt_salt(digest)


def test_bcrypt_salts_differ_per_user_and_per_key():
    salts = {hmac(f"commandcenter.infra.nats:{user}", key, encoding="bcrypt_salt")
             for user in ("commandcenter", "monitor") for key in (KEY, KEY.upper())}
    assert len(salts) == 4


def test_ansible_password_hash_accepts_the_salt():
    salt = hmac("commandcenter.infra.traefik:admin", KEY, encoding="bcrypt_salt")
    hashed = get_encrypted_password("pw-Zq8vW2pLr5tY", "bcrypt", salt=salt, rounds=4)  # the password_hash filter
    assert hashed.startswith("$2b$04$" + salt) and bcrypt.verify("pw-Zq8vW2pLr5tY", hashed)


def test_filter_is_registered():
    assert FilterModule().filters()["hmac"] is hmac
