"""Workspace paths: canonical forms, and nothing that climbs out."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from explore.platform.errors import BadRequest
from explore.platform.paths import ancestors, check_user_name, normalise


@pytest.mark.parametrize(("raw", "expected"), [
    ("alice", "alice"),
    ("/alice//results/a.csv/", "alice/results/a.csv"),
    ("alice/with space/é.fits", "alice/with space/é.fits"),
    ("alice/%2e%2e", "alice/%2e%2e"),  # a literal (already decoded once) name, harmless
])
def test_normalise_canonical_forms(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "/", "..", "alice/..", "alice/../bob", "./alice", "alice/./x", "C:/Windows", "c:\\x", "alice\\..\\bob",
    "alice/a\x00b", "alice/line\nbreak", "alice/.explore-tmp/x", "alice/" + "x" * 300,
])
def test_normalise_refuses(raw):
    with pytest.raises(BadRequest):
        normalise(raw)


def test_ancestors_nearest_first():
    assert ancestors("a/b/c") == ["a/b/c", "a/b", "a"]


@pytest.mark.parametrize("name", ["Alice", "1abc", "a b", "", "a/b", "x" * 65])
def test_bad_user_names(name):
    with pytest.raises(BadRequest):
        check_user_name(name)


@given(st.lists(st.sampled_from(["..", ".", "a", "b", "", "..%2f", "%2e", "x y", "\\", "c:"]), max_size=8))
def test_generated_paths_never_escape(parts):
    raw = "/".join(parts)
    try:
        norm = normalise(raw)
    except BadRequest:
        return
    components = norm.split("/")
    assert ".." not in components and "." not in components
    assert not norm.startswith("/") and "\\" not in norm
    assert all(components)
