"""seiketsu.crypto.SecretBox: sealing credentials at rest, key rotation, and nothing readable leaking."""

import base64
import json

import pytest
from cryptography.fernet import Fernet

from seiketsu.crypto import KEY_LABEL, SecretBox, SecretBoxError, derive_key
from tests.conftest import make_settings

OLD = "old-secret-key-0123456789-abcdefghijklmnop"
NEW = "new-secret-key-0123456789-abcdefghijklmnop"
CREDENTIALS = {"access_token": "pat-na1-11111111-2222", "client_secret": "shh-very-secret"}


def test_a_sealed_value_round_trips_and_its_token_shows_no_plaintext():
    box = SecretBox(NEW)
    token = box.encrypt(CREDENTIALS)
    assert box.decrypt(token) == CREDENTIALS
    assert "pat-na1" not in token and "shh" not in token and "access_token" not in token
    raw = base64.urlsafe_b64decode(token.encode())
    assert b"pat-na1" not in raw and b"access_token" not in raw


def test_each_seal_is_different_so_equal_secrets_are_not_recognisable():
    box = SecretBox(NEW)
    assert box.encrypt(CREDENTIALS) != box.encrypt(CREDENTIALS)


def test_the_key_is_derived_by_hkdf_not_the_secret_itself():
    key = derive_key(NEW)
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert NEW.encode()[:32] != base64.urlsafe_b64decode(key)
    assert derive_key(NEW) == key and derive_key(OLD) != key
    # a plain Fernet with the derived key reads the box's tokens: the derivation is the whole scheme
    token = SecretBox(NEW).encrypt({"a": 1})
    assert json.loads(Fernet(key).decrypt(token.encode())) == {"a": 1}
    assert KEY_LABEL == b"seiketsu/secret-box/v1"


def test_previous_keys_still_decrypt_and_rotation_moves_tokens_to_the_current_key():
    old_token = SecretBox(OLD).encrypt(CREDENTIALS)
    rotated_box = SecretBox(NEW, previous=(OLD,))
    assert rotated_box.decrypt(old_token) == CREDENTIALS
    assert not rotated_box.is_current(old_token)

    new_token = rotated_box.rotate(old_token)
    assert rotated_box.is_current(new_token)
    assert SecretBox(NEW).decrypt(new_token) == CREDENTIALS  # the old key can now be retired
    with pytest.raises(SecretBoxError):
        SecretBox(OLD).decrypt(new_token)


def test_an_unknown_key_or_a_damaged_token_is_a_clear_error():
    token = SecretBox(OLD).encrypt(CREDENTIALS)
    with pytest.raises(SecretBoxError, match="unknown key"):
        SecretBox(NEW).decrypt(token)
    with pytest.raises(SecretBoxError):
        SecretBox(OLD).decrypt(token[:-4] + "AAAA")
    with pytest.raises(SecretBoxError):
        SecretBox(OLD).rotate("not a token ✓")


def test_the_box_never_shows_keys_or_values():
    box = SecretBox(NEW, previous=(OLD,))
    shown = repr(box) + str(box)
    assert NEW not in shown and OLD not in shown and derive_key(NEW).decode() not in shown
    assert repr(box) == "SecretBox(keys=2)"


def test_the_box_is_built_from_settings_with_the_previous_keys():
    settings = make_settings(secret_key=NEW, previous_secret_keys=(OLD,))
    box = SecretBox.from_settings(settings)
    assert box.decrypt(SecretBox(OLD).encrypt("x")) == "x"
    assert box.is_current(box.encrypt("y"))
