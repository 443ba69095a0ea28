"""Accounts: argon2 passwords, tokens, sessions, sign-in links, throttling."""

import datetime as dt

import pytest
from sqlalchemy import select

from explore.platform.errors import BadRequest, Conflict, TooManyAttempts, Unauthorized
from explore.platform.models import LoginFailure, Token, User


def test_passwords_are_argon2_hashes(platform, people):
    with platform.db.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.name == "alice"))
    assert stored.startswith("$argon2id$")
    assert "alice-password" not in stored
    assert platform.accounts.authenticate("alice", "alice-password").name == "alice"
    with pytest.raises(Unauthorized):
        platform.accounts.authenticate("alice", "wrong-password")


def test_no_default_account(platform):
    assert platform.accounts.count_users() == 0
    with pytest.raises(Unauthorized):
        platform.accounts.authenticate("admin", "admin")


def test_user_names_unique_and_checked(platform, people):
    with pytest.raises(Conflict):
        platform.create_user("alice", "another-password")
    with pytest.raises(Conflict):
        platform.create_user("astro", "another-password")  # a group's name
    with pytest.raises(BadRequest):
        platform.create_user("Eve Smith", "password123")
    with pytest.raises(BadRequest):
        platform.create_user("eve", "short")


def test_tokens_stored_hashed_and_expire(platform, people):
    secret = platform.accounts.issue_token("bob", "api", name="laptop")
    assert platform.accounts.resolve_token(secret).name == "bob"
    with platform.db.session() as s:
        hashes = s.scalars(select(Token.token_hash)).all()
        assert secret not in hashes
        s.execute(Token.__table__.update().values(expires=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    with pytest.raises(Unauthorized):
        platform.accounts.resolve_token(secret)


def test_session_token_is_not_an_api_token(platform, people):
    secret = platform.accounts.issue_token("bob", "session")
    with pytest.raises(Unauthorized):
        platform.accounts.resolve_token(secret, "api")
    assert platform.accounts.resolve_token(secret, "session").name == "bob"


def test_signin_link_works_once(platform, people):
    secret = platform.accounts.issue_token("alice", "signin")
    assert platform.accounts.redeem_signin(secret).name == "alice"
    with pytest.raises(Unauthorized):
        platform.accounts.redeem_signin(secret)


def test_disabled_user_cannot_sign_in(platform, people):
    token = platform.accounts.issue_token("bob")
    platform.accounts.update_user("bob", active=False)
    with pytest.raises(Unauthorized):
        platform.accounts.authenticate("bob", "bob-password")
    with pytest.raises(Unauthorized):
        platform.accounts.resolve_token(token)


def test_repeated_failures_are_slowed_down(platform, people):
    # three free attempts (settings), then a wait that doubles
    for _ in range(3):
        with pytest.raises(Unauthorized):
            platform.accounts.authenticate("alice", "guess")
    with pytest.raises(TooManyAttempts) as info:
        platform.accounts.authenticate("alice", "alice-password")  # even the right password must wait
    assert 0 < info.value.retry_after <= 1.0
    assert platform.accounts.delay_for(3) == 1 and platform.accounts.delay_for(5) == 4
    assert platform.accounts.delay_for(100) == 900
    # once the wait is over, the right password works and clears the record
    with platform.db.session() as s:
        s.get(LoginFailure, "alice").last = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    assert platform.accounts.authenticate("alice", "alice-password").name == "alice"
    with platform.db.session() as s:
        assert s.get(LoginFailure, "alice") is None


def test_password_change_ends_sessions(platform, people):
    session = platform.accounts.issue_token("carol", "session")
    platform.accounts.set_password("carol", "new-password-1")
    with pytest.raises(Unauthorized):
        platform.accounts.resolve_token(session, "session")
    assert platform.accounts.authenticate("carol", "new-password-1").name == "carol"


def test_groups(platform, people):
    assert people["carol"].groups == frozenset({"astro"})
    platform.accounts.remove_member("astro", "carol")
    assert platform.accounts.get("carol").groups == frozenset()
    assert [g["members"] for g in platform.accounts.list_groups()] == [["dave"]]


def test_resolved_tokens_are_remembered_briefly_and_forgotten_on_changes(platform, people, monkeypatch):
    """A token resolved once is answered without the database for a few seconds; a change made
    through this process (revoke, deactivate, group membership) is seen at once, one made behind its
    back (another process) within TOKEN_MEMORY_SECONDS."""
    from explore.platform import accounts as accounts_module

    acc = platform.accounts
    secret = acc.issue_token("alice")
    assert acc.remembered_token(secret) is None
    alice = acc.resolve_token(secret)
    assert acc.remembered_token(secret) == alice
    assert acc.remembered_token(secret, "session") is None  # kinds are apart
    acc.create_group("rovers")
    acc.add_member("rovers", "alice")
    assert acc.remembered_token(secret) is None  # membership changed: looked up again
    assert "rovers" in acc.resolve_token(secret).groups
    acc.update_user("alice", active=False)
    assert acc.remembered_token(secret) is None
    with pytest.raises(Unauthorized):
        acc.resolve_token(secret)
    acc.update_user("alice", active=True)
    acc.resolve_token(secret)
    acc.revoke_token(secret)
    assert acc.remembered_token(secret) is None
    # deleted behind this process's back: remembered until the memory runs out
    other = acc.issue_token("alice")
    acc.resolve_token(other)
    with platform.db.session() as s:
        s.query(Token).filter(Token.kind == "api").delete()
    assert acc.remembered_token(other) is not None
    clock = [accounts_module.time.monotonic() + accounts_module.TOKEN_MEMORY_SECONDS + 0.01]
    monkeypatch.setattr(accounts_module.time, "monotonic", lambda: clock[0])
    assert acc.remembered_token(other) is None
    with pytest.raises(Unauthorized):
        acc.resolve_token(other)
    # a sign-in link is never remembered (it works once)
    link = acc.issue_token("alice", "signin")
    acc.redeem_signin(link)
    assert acc.remembered_token(link, "signin") is None
