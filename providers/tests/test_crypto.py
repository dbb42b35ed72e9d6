"""Secrets at rest: MultiFernet encryption, rotation, and loud failures."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from providers.crypto import SecretError, secret_decrypt, secret_encrypt, secret_mask, secret_rotate

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_round_trip_and_the_token_does_not_contain_the_secret(settings):
    settings.COMMAND_SECRET_KEYS = [NEW]
    token = secret_encrypt("sk-live-abcdef123456")
    assert "abcdef123456" not in token
    assert secret_decrypt(token) == "sk-live-abcdef123456"


def test_first_key_encrypts_and_every_key_decrypts(settings):
    settings.COMMAND_SECRET_KEYS = [OLD]
    old_token = secret_encrypt("sk-old")
    settings.COMMAND_SECRET_KEYS = [NEW, OLD]
    assert secret_decrypt(old_token) == "sk-old"
    new_token = secret_encrypt("sk-new")
    settings.COMMAND_SECRET_KEYS = [NEW]
    assert secret_decrypt(new_token) == "sk-new"
    with pytest.raises(SecretError):
        secret_decrypt(old_token)


def test_rotate_moves_a_token_to_the_newest_key(settings):
    settings.COMMAND_SECRET_KEYS = [OLD]
    token = secret_encrypt("sk-rotate")
    settings.COMMAND_SECRET_KEYS = [NEW, OLD]
    rotated = secret_rotate(token)
    settings.COMMAND_SECRET_KEYS = [NEW]
    assert secret_decrypt(rotated) == "sk-rotate"


def test_a_token_no_key_opens_is_an_error_not_a_pass_through(settings):
    settings.COMMAND_SECRET_KEYS = [NEW]
    with pytest.raises(SecretError, match="could not be decrypted"):
        secret_decrypt("not-a-token")


def test_missing_or_malformed_keys_fail_loudly(settings):
    settings.COMMAND_SECRET_KEYS = []
    with pytest.raises(SecretError, match="COMMAND_SECRET_KEYS is not set"):
        secret_encrypt("x")
    settings.COMMAND_SECRET_KEYS = ["too-short"]
    with pytest.raises(SecretError, match="not a Fernet key"):
        secret_encrypt("x")


def test_mask_shows_only_the_last_four():
    assert secret_mask("3456") == "••••3456"
    assert secret_mask("") == "no key"
