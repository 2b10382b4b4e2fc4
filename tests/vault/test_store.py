"""The vault service: round trips, opaque decrypt errors, masked listings, names and duplicates."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from inventory.errors import ConfigError, NotFoundError
from vault import (
    CredentialExistsError,
    CredentialInfo,
    CredentialNotFoundError,
    DecryptError,
    Keyring,
    Secret,
    Vault,
    generate_key,
    mask,
)

from .conftest import API_KEY, PASSWORD, stored

OPAQUE = (
    "cannot decrypt credential 'lever': the master key does not match "
    "(was INVSYNC_MASTER_KEY or master.key changed?)"
)


@pytest.fixture
def database_url(shared_database_url: str) -> str:
    """One database per backend for the module: its tests roll back (those that commit are
    marked `fresh_database`)."""
    return shared_database_url


@pytest.mark.fresh_database
@pytest.mark.parametrize(
    ("username", "password"),
    [
        (API_KEY, PASSWORD),
        (API_KEY, ""),
        (API_KEY, " "),
        (API_KEY, "  padded\t\n"),
        ("clé-日本語-🔑", "pässwörd-пароль-密码"),
        (" leading-space", "\x00nul"),
    ],
)
def test_round_trip_is_exact(
    session_factory: sessionmaker[Session], keyring: Keyring, username: str, password: str
) -> None:
    with session_factory.begin() as session:
        Vault(session, keyring).add("lever", username, password)
    with session_factory() as session:
        secret = Vault(session, keyring).get("lever")
    assert (secret.username, secret.password, secret.kind) == (username, password, "basic")


def test_password_defaults_to_empty(vault: Vault) -> None:
    vault.add("lever", API_KEY)
    assert vault.get("lever") == Secret(API_KEY, "", "basic")


def test_the_database_holds_ciphertext_only(session: Session, vault: Vault) -> None:
    vault.add("lever", API_KEY, PASSWORD)
    row = stored(session, "lever")
    assert API_KEY not in row.secret and PASSWORD not in row.secret
    assert row.hint == mask(API_KEY)


def test_vault_never_commits(session: Session, vault: Vault) -> None:
    vault.add("lever", API_KEY)
    session.rollback()
    assert vault.list() == []


def test_info_shows_masked_username_and_key_id(session: Session, keyring: Keyring) -> None:
    clock = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    vault = Vault(session, keyring, clock=lambda: clock)
    info = vault.add("lever", API_KEY, PASSWORD)
    assert vault.info("lever") == info
    expected = CredentialInfo("lever", "basic", mask(API_KEY), keyring.current_key_id, clock, clock)
    assert info == expected


@pytest.mark.fresh_database
def test_to_dict_is_the_stable_json_shape(session: Session, vault: Vault) -> None:
    vault.add("lever", API_KEY, PASSWORD)
    session.commit()
    (item,) = [i.to_dict() for i in vault.list()]
    assert list(item) == ["name", "kind", "username_hint", "created_at", "updated_at"]
    assert item["username_hint"] == "\u2022" * 6 + "7f3a"
    assert item["created_at"].endswith("Z") and item["updated_at"].endswith("Z")
    assert datetime.fromisoformat(item["created_at"]).tzinfo is not None


def test_listing_and_repr_never_show_the_secret(vault: Vault) -> None:
    vault.add("lever", API_KEY, PASSWORD)
    vault.add("other", PASSWORD, API_KEY, kind="bearer")
    secret = vault.get("lever")
    shown = [
        repr(vault.list()),
        str(vault.list()),
        json.dumps([i.to_dict() for i in vault.list()]),
        repr(vault.info("lever")),
        repr(secret),
        str(secret),
        f"{secret}",
    ]
    for text in shown:
        assert API_KEY not in text and PASSWORD not in text
    assert repr(secret) == f"Secret(kind='basic', username={mask(API_KEY)!r})"


def test_list_is_sorted_by_name(vault: Vault) -> None:
    for name in ("zeta", "alpha", "mid"):
        vault.add(name, API_KEY)
    assert [i.name for i in vault.list()] == ["alpha", "mid", "zeta"]


def test_duplicate_add_is_refused(vault: Vault) -> None:
    vault.add("lever", API_KEY, PASSWORD)
    with pytest.raises(CredentialExistsError, match="'lever' already exists") as caught:
        vault.add("lever", "another-key")
    assert "another-key" not in str(caught.value)
    assert vault.get("lever").username == API_KEY


def test_replace_updates_secret_and_keeps_created_at(session: Session, keyring: Keyring) -> None:
    times = iter([datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)])
    vault = Vault(session, keyring, clock=lambda: next(times))
    first = vault.add("lever", API_KEY, PASSWORD)
    second = vault.add("lever", "new-api-key-abcd", "", kind="bearer", replace=True)
    assert vault.get("lever") == Secret("new-api-key-abcd", "", "bearer")
    assert second.created_at == first.created_at < second.updated_at
    assert len(vault.list()) == 1


def test_replace_adds_when_absent(vault: Vault) -> None:
    vault.add("lever", API_KEY, replace=True)
    assert vault.get("lever").username == API_KEY


@pytest.mark.parametrize("call", ["get", "info", "delete"])
def test_unknown_name_is_not_found(vault: Vault, call: str) -> None:
    with pytest.raises(CredentialNotFoundError) as caught:
        getattr(vault, call)("nope")
    assert str(caught.value) == (
        "no credential named 'nope': add it with `invsync vault add nope --username KEY`"
    )
    assert isinstance(caught.value, NotFoundError)
    assert caught.value.exit_code == 2


def test_delete(vault: Vault) -> None:
    vault.add("lever", API_KEY)
    vault.add("keep", API_KEY)
    vault.delete("lever")
    assert [i.name for i in vault.list()] == ["keep"]


@pytest.mark.parametrize("name", ["a", "a" * 100, "lever-prod_1.2", "A.B", "0"])
def test_valid_names(vault: Vault, name: str) -> None:
    assert vault.add(name, API_KEY).name == name


@pytest.mark.parametrize(
    ("name", "username", "kind", "message"),
    [
        ("", API_KEY, "basic", "invalid credential name ''"),
        ("a" * 101, API_KEY, "basic", "invalid credential name"),
        ("has space", API_KEY, "basic", "invalid credential name"),
        ("slash/name", API_KEY, "basic", "invalid credential name"),
        ("ünicode", API_KEY, "basic", "invalid credential name"),
        ("trailing\n", API_KEY, "basic", "invalid credential name"),
        ("lever", "", "basic", "credential 'lever' needs a username (for Lever, the API key)"),
        ("lever", "   ", "basic", "credential 'lever' needs a username"),
        ("lever", API_KEY, "oauth", "unknown credential kind 'oauth': use one of basic, bearer"),
    ],
)
def test_bad_input_is_a_config_error(
    vault: Vault, name: str, username: str, kind: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        vault.add(name, username, PASSWORD, kind=kind)
    assert str(caught.value).startswith(message)
    assert API_KEY not in str(caught.value) and PASSWORD not in str(caught.value)
    assert vault.list() == []


def test_wrong_key_is_one_opaque_error(session: Session, vault: Vault, keyring: Keyring) -> None:
    vault.add("lever", API_KEY, PASSWORD)
    other_key = generate_key()
    with pytest.raises(DecryptError) as caught:
        Vault(session, Keyring([other_key])).get("lever")
    assert str(caught.value) == OPAQUE
    for leak in (API_KEY, PASSWORD, other_key, *keyring._keys):
        assert leak not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert caught.value.exit_code == 2


def flip(token: str, index: int) -> str:
    """The token with one bit of one byte flipped."""
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode("ascii")


# A Fernet token: version (1 byte), timestamp (8), IV (16), ciphertext, HMAC (32).
@pytest.mark.parametrize("index", [0, 4, 12, 30, -33, -1], ids=lambda i: f"byte {i}")
def test_tampered_ciphertext_is_the_same_opaque_error(
    session: Session, vault: Vault, index: int
) -> None:
    vault.add("lever", API_KEY, PASSWORD)
    row = stored(session, "lever")
    key, _, token = row.secret.partition(":")
    row.secret = f"{key}:{flip(token, index)}"
    with pytest.raises(DecryptError, match=r"^cannot decrypt credential 'lever': the master key"):
        vault.get("lever")


@pytest.mark.parametrize(
    "damaged", ["", "a1b2c3d4:", "a1b2c3d4:not base64!", "a1b2c3d4:é", "a1b2c3d4:" + "A" * 120]
)
def test_damaged_stored_value_is_the_same_opaque_error(
    session: Session, vault: Vault, damaged: str
) -> None:
    vault.add("lever", API_KEY, PASSWORD)
    stored(session, "lever").secret = damaged
    with pytest.raises(DecryptError) as caught:
        vault.get("lever")
    assert str(caught.value) == OPAQUE


def test_plaintext_of_the_wrong_shape_is_the_same_opaque_error(
    session: Session, vault: Vault, keyring: Keyring
) -> None:
    vault.add("lever", API_KEY, PASSWORD)
    row = stored(session, "lever")
    row.secret = f"{keyring.current_key_id}:{keyring.encrypt(b'[1, 2]')}"
    with pytest.raises(DecryptError) as caught:
        vault.get("lever")
    assert caught.value.__context__ is None


def test_rotate_re_encrypts_everything(session: Session, vault: Vault, keyring: Keyring) -> None:
    for name in ("a", "b", "c"):
        vault.add(name, f"{API_KEY}-{name}", PASSWORD)
    new = Keyring([generate_key()])
    assert vault.rotate(new) == 3
    assert Vault(session, new).get("b") == Secret(f"{API_KEY}-b", PASSWORD)
    assert {i.key_id for i in vault.list()} == {new.current_key_id}
    assert vault.unreadable() == ["a", "b", "c"]
    with pytest.raises(DecryptError):
        vault.get("a")


def test_rotate_keeps_updated_at(vault: Vault) -> None:
    before = vault.add("lever", API_KEY)
    vault.rotate(Keyring([generate_key()]))
    assert vault.info("lever").updated_at == before.updated_at


def test_unreadable_names_what_the_keys_cannot_open(session: Session, vault: Vault) -> None:
    vault.add("mine", API_KEY)
    Vault(session, Keyring([generate_key()])).add("foreign", API_KEY)
    assert vault.unreadable() == ["foreign"]
