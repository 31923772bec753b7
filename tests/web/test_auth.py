"""Users, tokens and permissions: who may read a private index and who may upload, over HTTP and the CLI.

Uploads without the right credentials get 403 (as PyPI); reads of a private index without credentials get
401 with a Basic challenge (pip asks netrc or keyring only after a 401). Changes made with the CLI take effect
at once in the running server. Secrets never reach the log.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from rennet.config import InvalidConfig
from rennet.service.runtime.auth import FAILURE_WINDOW, REMEMBER_SECONDS
from tests.support.accounts import add_user, create_token, elsewhere, rennet_cli, token_key
from tests.support.dists import make_wheel
from tests.support.hosting import UPLOADS, hosted_server
from tests.support.server import LocalServer
from tests.support.uploads import post_upload
from tests.support.upstream import NOWHERE, FakeUpstream

PASSWORDS = {
    "alice": "alice-Secret-0001",  # uploads to local, team and other
    "bob": "bob-Secret-0002",  # reads team
    "carol": "carol-Secret-0003",  # just a user: reads no private index
    "root": "root-Secret-0004",  # admin
}
CONFIG = f"""{UPLOADS}
[index.other]
type = "hosted"
upload = ["alice"]

[index.team]
type = "hosted"
private = true
read = ["bob", "dave"]
upload = ["alice"]

# The default group contains a private index, so it must be private itself, and readable only by those who may
# read team (alice may: she uploads there).
[index.default]
type = "group"
members = ["team", "local", "pypi"]
private = true
read = ["alice", "bob", "dave"]
"""


def creds(user: str) -> tuple[str, str]:
    return user, PASSWORDS[user]


server = hosted_server(CONFIG, PASSWORDS.items(), admins={"root"}, upstream=(make_wheel("publicdep", "1.0"),))


@pytest.fixture
def lone_server(rennet_factory: Callable[..., LocalServer]) -> LocalServer:
    """A server of the test's own, with no users yet: the login limits of the shared one are not disturbed."""
    return rennet_factory(config=CONFIG, upstream_url=NOWHERE)


# Every request of the shared server comes from an address of its own: the failed logins these tests make on
# purpose would otherwise hit the per-address limit (tested on its own server below).
def get(server: LocalServer, path: str, auth: tuple[str, str] | None = None, **options: object) -> httpx.Response:
    with elsewhere() as client:
        return client.get(server.url + path, auth=auth, **options)  # type: ignore[arg-type]


def upload(server: LocalServer, index: str, version: str, auth: tuple[str, str] | None) -> httpx.Response:
    with elsewhere() as client:
        return post_upload(f"{server.url}/{index}/", make_wheel(f"perm-{index}", version), auth=auth, client=client)


def assert_challenged(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert response.text.strip(), "a sentence in the body"


def test_private_reads_need_credentials(server: LocalServer) -> None:
    assert upload(server, "team", "1.0", creds("alice")).status_code == 200
    private_paths = [
        "/team/simple/",
        "/team/simple/perm-team/",
        "/team/files/perm-team/perm_team-1.0-py3-none-any.whl",
        "/simple/",
        "/simple/perm-team/",
        "/default/files/perm-team/perm_team-1.0-py3-none-any.whl",
    ]
    for path in private_paths:
        assert_challenged(get(server, path))
        assert_challenged(get(server, path, auth=("bob", "not-the-password")))
        assert_challenged(get(server, path, auth=("__token__", "rnt_0123456789abcdef_" + "x" * 43)))
        assert get(server, path, auth=creds("bob")).status_code == 200, path
        assert get(server, path, auth=creds("root")).status_code == 200, path
    # carol is a user, but not a reader of team: refused, without a challenge (her credentials are fine).
    refused = get(server, "/team/simple/perm-team/", auth=creds("carol"))
    assert refused.status_code == 403 and "carol" in refused.text
    # Nor can she read team's files through the default group.
    for path in private_paths[3:]:
        refused = get(server, path, auth=creds("carol"))
        assert refused.status_code == 403 and "carol" in refused.text, path
    # The public index needs nothing.
    assert get(server, "/local/simple/").status_code == 200

    read_token = create_token(server, "bob", scope="read")
    assert get(server, "/team/simple/perm-team/", auth=("__token__", read_token)).status_code == 200
    local_only = create_token(server, "bob", index="local", scope="read")
    assert get(server, "/team/simple/perm-team/", auth=("__token__", local_only)).status_code == 403


def test_files_of_private_indexes_are_not_for_shared_caches(
    server: LocalServer, module_upstream: FakeUpstream
) -> None:
    """A proxy or CDN between rennet and its users must not keep a file someone had to log in for."""
    secret, mirrored = make_wheel("perm-cached", "1.0"), make_wheel("perm-mirrored", "1.0")
    module_upstream.add(mirrored)
    with elsewhere() as client:
        assert post_upload(f"{server.url}/team/", secret, auth=creds("alice"), client=client).status_code == 200
        assert post_upload(f"{server.url}/local/", secret, auth=creds("alice"), client=client).status_code == 200
    public = "public, max-age=31536000, immutable"
    private = "private, max-age=31536000, immutable"
    expected = {
        f"/team/files/perm-cached/{secret.filename}": private,
        f"/team/files/perm-cached/{secret.filename}.metadata": private,
        f"/local/files/perm-cached/{secret.filename}": public,
        f"/local/files/perm-cached/{secret.filename}.metadata": public,
        # The private group serves public members' files to logged-in users only: private too, whether the
        # file is streamed while it is fetched (the first time) or sent from the cache.
        f"/default/files/perm-mirrored/{mirrored.filename}": private,
        f"/pypi/files/perm-mirrored/{mirrored.filename}": public,
    }
    for _ in range(2):
        for path, cache_control in expected.items():
            response = get(server, path, auth=creds("bob"))
            assert response.status_code == 200, (path, response.text)
            assert response.headers["cache-control"] == cache_control, path
    assert module_upstream.count(f"/files/{mirrored.filename}") == 1, "the first answer was the streamed one"


def test_uploads_need_upload_rights(server: LocalServer) -> None:
    alice_local = create_token(server, "alice", index="local")
    alice_anywhere = create_token(server, "alice")
    alice_other = create_token(server, "alice", index="other")
    alice_read = create_token(server, "alice", scope="read")
    alice_expired = create_token(server, "alice", index="local", expires="1ms")
    alice_revoked = create_token(server, "alice", index="local")
    assert rennet_cli(server, "token", "revoke", token_key(alice_revoked)).returncode == 0
    bob_token = create_token(server, "bob")

    refused: dict[str, tuple[str, str] | None] = {
        "anonymous": None,
        "wrong password": ("alice", "alice-Secret-0000"),
        "unknown user": ("mallory", "whatever-password"),
        "read-scope token": ("__token__", alice_read),
        "token for another index": ("__token__", alice_other),
        "expired token": ("__token__", alice_expired),
        "revoked token": ("__token__", alice_revoked),
        "garbled token": ("__token__", alice_local[:-4] + "abcd"),
        "user not in the upload list": creds("bob"),
        "token of a user not in the upload list": ("__token__", bob_token),
        "password as a token": ("__token__", PASSWORDS["alice"]),
    }
    for number, (case, auth) in enumerate(refused.items()):
        response = upload(server, "local", f"0.{number}", auth)
        assert response.status_code == 403, (case, response.status_code, response.text)
        assert response.text.strip(), case
        assert "www-authenticate" not in response.headers
    assert get(server, "/local/simple/perm-local/").status_code == 404, "nothing was stored"

    accepted: dict[str, tuple[str, str]] = {
        "password": creds("alice"),
        "token for this index": ("__token__", alice_local),
        "token for every index": ("__token__", alice_anywhere),
        "admin not in the upload list": creds("root"),
    }
    for number, (case, auth) in enumerate(accepted.items()):
        response = upload(server, "local", f"1.{number}", auth)
        assert response.status_code == 200, (case, response.text)
    assert upload(server, "other", "1.0", ("__token__", alice_other)).status_code == 200
    # A token's index restriction applies to uploads through a group too: default forwards to team.
    assert upload(server, "default", "1.0", ("__token__", alice_local)).status_code == 403
    assert upload(server, "default", "1.0", creds("alice")).status_code == 200
    assert get(server, "/team/simple/perm-default/", auth=creds("bob")).status_code == 200


def test_cli_changes_take_effect_at_once(server: LocalServer) -> None:
    """The server remembers verified credentials for speed; revoking or changing them must still win at once."""
    add_user(server, "dave", "dave-Secret-0005")
    token = create_token(server, "alice", index="local")
    assert upload(server, "local", "2.0", ("__token__", token)).status_code == 200
    assert rennet_cli(server, "token", "revoke", token_key(token)).returncode == 0
    assert upload(server, "local", "2.1", ("__token__", token)).status_code == 403

    # bob reads team with his password (now remembered), then gets a new one: the old one fails at once.
    assert get(server, "/team/simple/", auth=creds("bob")).status_code == 200
    changed = rennet_cli(server, "user", "passwd", "bob", "--password-stdin", stdin="bob-Secret-0099\n")
    assert changed.returncode == 0, changed.stderr
    assert_challenged(get(server, "/team/simple/", auth=creds("bob")))
    assert get(server, "/team/simple/", auth=("bob", "bob-Secret-0099")).status_code == 200
    changed_back = rennet_cli(server, "user", "passwd", "bob", "--password-stdin", stdin=PASSWORDS["bob"] + "\n")
    assert changed_back.returncode == 0

    # A removed user, and their tokens, are gone at once.
    dave_token = create_token(server, "dave", scope="read")
    assert get(server, "/simple/", auth=("dave", "dave-Secret-0005")).status_code == 200
    assert get(server, "/simple/", auth=("__token__", dave_token)).status_code == 200
    assert rennet_cli(server, "user", "remove", "dave").returncode == 0
    assert_challenged(get(server, "/simple/", auth=("dave", "dave-Secret-0005")))
    assert_challenged(get(server, "/simple/", auth=("__token__", dave_token)))


def test_cli_users_and_tokens(server: LocalServer) -> None:
    add_user(server, "erin", "erin-Secret-0006")
    listed = rennet_cli(server, "user", "list")
    assert listed.returncode == 0
    lines = {line.split("\t")[0]: line for line in listed.stdout.splitlines()}
    assert {"alice", "bob", "carol", "root", "erin"} <= set(lines)
    assert "admin" in lines["root"].split("\t")[1] and lines["erin"].split("\t")[1] == "user"

    duplicate = rennet_cli(server, "user", "add", "erin", "--password-stdin", stdin="another-password\n")
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr
    short = rennet_cli(server, "user", "add", "frank", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "8 characters" in short.stderr
    reserved = rennet_cli(server, "user", "add", "__token__", "--password-stdin", stdin="long-enough-pw\n")
    assert reserved.returncode == 1

    token = create_token(server, "erin", index="local", scope="read", expires="30d")
    secret = token.split("_", 2)[2]
    tokens = rennet_cli(server, "token", "list", "--user", "erin")
    assert tokens.returncode == 0
    (line,) = tokens.stdout.splitlines()
    assert line.split("\t")[:6] == [token_key(token), "erin", "read", "local", "active", line.split("\t")[5]]
    assert secret not in tokens.stdout + tokens.stderr

    nowhere = rennet_cli(server, "token", "create", "--user", "erin", "--index", "no-such-index")
    assert nowhere.returncode == 1 and "no-such-index" in nowhere.stderr
    nobody = rennet_cli(server, "token", "create", "--user", "nobody")
    assert nobody.returncode == 1 and "nobody" in nobody.stderr

    assert rennet_cli(server, "token", "revoke", token_key(token)).returncode == 0
    assert "\trevoked\t" in rennet_cli(server, "token", "list", "--user", "erin").stdout
    again = rennet_cli(server, "token", "revoke", token_key(token))
    assert again.returncode == 1 and "no active token" in again.stderr

    assert rennet_cli(server, "user", "remove", "erin").returncode == 0
    assert "erin" not in rennet_cli(server, "user", "list").stdout
    assert rennet_cli(server, "token", "list", "--user", "erin").stdout == ""
    assert rennet_cli(server, "user", "remove", "erin").returncode == 1


def test_secrets_never_reach_the_log(server: LocalServer) -> None:
    token = create_token(server, "alice", index="local")
    wrong_token = token[:-6] + "AAAAAA"
    upload(server, "local", "3.0", creds("alice"))
    upload(server, "local", "3.1", ("__token__", token))
    upload(server, "local", "3.2", ("alice", "alice-Wrong-9999"))
    upload(server, "local", "3.3", ("__token__", wrong_token))
    get(server, "/team/simple/", auth=creds("bob"))
    get(server, "/team/simple/", auth=("bob", "bob-Wrong-9999"))
    get(server, f"/team/simple/?token={token}&password={PASSWORDS['carol']}")
    get(server, "/team/simple/", headers={"authorization": "Basic " + base64.b64encode(b"bob:\xff\xfe").decode()})
    # Access lines go out in batches: once a last request's line is there, every line before it is too.
    get(server, "/local/simple/after-the-secrets/")
    server.wait_for_access("/local/simple/after-the-secrets/")
    log = server.log()
    assert "POST /local/" in log, "the log is the one of this server"
    secrets = [*PASSWORDS.values(), "alice-Wrong-9999", "bob-Wrong-9999", token, wrong_token]
    secrets += [token.split("_", 2)[2], wrong_token.split("_", 2)[2]]
    secrets += [base64.b64encode(f"alice:{PASSWORDS['alice']}".encode()).decode()]
    for secret in secrets:
        assert secret not in log, f"a secret ({secret[:5]}...) is in the server log"


def test_failed_logins_are_rate_limited_per_address_and_user(lone_server: LocalServer) -> None:
    server = lone_server
    clock = server.registry.shared.clock
    add_user(server, "alice", PASSWORDS["alice"])
    add_user(server, "bob", PASSWORDS["bob"])
    wheel = make_wheel("limited", "1.0")
    statuses = [
        post_upload(server.url + "/local/", wheel, auth=("alice", f"wrong-{n}")).status_code for n in range(10)
    ]
    assert set(statuses) == {403}
    limited = post_upload(server.url + "/local/", wheel, auth=creds("alice"))
    assert limited.status_code == 429, "even the right password waits once alice's failed too often here"
    assert "too many failed logins as 'alice'" in limited.text
    assert server.get("/team/simple/", auth=creds("alice")).status_code == 429
    # Someone else at the same address is not locked out by alice's failures.
    assert server.get("/team/simple/", auth=creds("bob")).status_code == 200
    # The failures count for a minute: shortly before it is over, alice still waits here.
    clock.advance(FAILURE_WINDOW - 5)
    assert server.get("/team/simple/", auth=creds("alice")).status_code == 429
    # Another address is not affected (the whole 127/8 is loopback on Linux).
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
        response = other.get(server.url + "/team/simple/", auth=creds("alice"))
    assert response.status_code == 200, "another address is not throttled"
    # Once the minute is over, alice may log in here again.
    clock.advance(10)
    assert post_upload(server.url + "/local/", wheel, auth=creds("alice")).status_code == 200


async def _concurrent_gets(url: str, logins: list[tuple[str, str]], address: str) -> list[int]:
    """GET url once per login, all at once, each on a connection of its own from `address`."""

    async def one(login: tuple[str, str]) -> int:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(transport=transport, timeout=120) as client:
            return (await client.get(url, auth=login)).status_code

    return list(await asyncio.gather(*(one(login) for login in logins)))


def test_failed_logins_are_limited_when_sent_at_once(lone_server: LocalServer) -> None:
    """Guesses sent together count from the moment they arrive, not once they have failed."""
    server = lone_server
    add_user(server, "bob", PASSWORDS["bob"])
    url = server.url + "/team/simple/"
    guesses = [("bob", f"guess-{n:04}") for n in range(40)]
    statuses = asyncio.run(_concurrent_gets(url, guesses, "127.0.0.3"))
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= 10, "at most the limit of guesses was verified"
    # A user's parallel first requests (an installer's) are one login, not many.
    statuses = asyncio.run(_concurrent_gets(url, [creds("bob")] * 20, "127.0.0.4"))
    assert statuses == [200] * 20


def test_a_throttled_login_keeps_credentials_proven_moments_ago(lone_server: LocalServer) -> None:
    """Throttling slows guessing; a login verified within the last minute is no guess."""
    server = lone_server
    clock = server.registry.shared.clock
    add_user(server, "alice", PASSWORDS["alice"])
    assert server.get("/team/simple/", auth=creds("alice")).status_code == 200
    clock.advance(REMEMBER_SECONDS - 10)
    for n in range(10):
        assert server.get("/team/simple/", auth=("alice", f"wrong-{n}")).status_code == 401
    assert server.get("/team/simple/", auth=("alice", "wrong-again")).status_code == 429, "guessing is throttled"
    assert server.get("/team/simple/", auth=creds("alice")).status_code == 200, "a proven login is not"
    # Once a minute has passed since alice's login was verified, hers is a fresh check too, while the failures
    # (ten seconds younger) still count.
    clock.advance(20)
    assert server.get("/team/simple/", auth=creds("alice")).status_code == 429, "proven over a minute ago"
    clock.advance(FAILURE_WINDOW)
    assert server.get("/team/simple/", auth=creds("alice")).status_code == 200


def test_a_group_that_would_show_a_private_index_to_others_is_refused_at_start(tmp_path: Path) -> None:
    """Every user may read the group, but only bob (and alice, who uploads) may read team: through the group
    any user could have read team's files. rennet refuses to start with such a configuration."""
    leaky = CONFIG.replace('read = ["alice", "bob", "dave"]', 'read = ["*"]')
    assert leaky != CONFIG
    problems = ("group 'default' may be read by every user", "private member 'team' may not")
    server = LocalServer(tmp_path / "data", config=leaky, upstream_url=NOWHERE)
    with pytest.raises(InvalidConfig) as refused:
        server.start()
    for problem in problems:
        assert problem in str(refused.value)
    # The commands load the same settings before doing anything (`rennet serve` included), and refuse alike.
    command = server.cli("user", "list")
    assert command.returncode == 2, command
    assert command.stderr.startswith("rennet: configuration error: ")
    for problem in problems:
        assert problem in command.stderr
