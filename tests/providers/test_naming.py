"""Resource names cleaned for a cloud: kept when allowed, hashed when changed, never colliding."""

from __future__ import annotations

from providers.naming import cleaned_name, name_hash

ALLOWED = r"[^A-Za-z0-9._-]+"


def test_an_allowed_name_is_kept_and_a_changed_one_hashed():
    assert cleaned_name("coriolis-m1-web.01", ALLOWED) == "coriolis-m1-web.01"
    assert cleaned_name("web 01", ALLOWED) == f"web-01-{name_hash('web 01')}"
    assert cleaned_name("web/01", ALLOWED) != cleaned_name("web 01", ALLOWED)  # same cleaning, other hash


def test_strip_length_limits_and_an_empty_result():
    assert cleaned_name("..db..", ALLOWED, strip="-.") == f"db-{name_hash('..db..')}"
    long = "a" * 120
    assert cleaned_name(long, ALLOWED, max_length=100) == f"{'a' * 100}-{name_hash(long)}"
    assert cleaned_name("ab", ALLOWED, min_length=3) == f"ab-{name_hash('ab')}"
    assert cleaned_name("ééé", ALLOWED) == f"x-{name_hash('ééé')}"
    assert len(name_hash("x")) == 8 and name_hash("x") != name_hash("y")
