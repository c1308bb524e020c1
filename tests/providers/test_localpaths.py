"""Path tricks against the allowed-roots check: each must be refused, or resolve inside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from providers import localpaths
from providers.localpaths import PathNotAllowed, confine, parse_roots


@pytest.fixture()
def tree(tmp_path: Path) -> dict[str, Path]:
    """An allowed root (with a library inside) next to a sibling the root's name prefixes, and an outside."""
    root = tmp_path / "lib"
    (root / "a").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (tmp_path / "lib-evil").mkdir()
    (root / "chain1").symlink_to(root / "chain2")
    (root / "chain2").symlink_to(outside)  # a chain of symlinks ending outside
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")
    (root / "inner").symlink_to(root / "a")  # a symlink that stays inside
    return {"root": root, "outside": outside, "tmp": tmp_path}


def _tricks(t: dict[str, Path]) -> list[str]:
    root, outside = str(t["root"]), str(t["outside"])
    return [
        f"{root}/../outside",  # ..
        f"{root}/a/../../outside/secret",
        f"{root}/chain1",  # symlink chain
        f"{root}/chain1/secret",
        f"{root}/loop1",  # symlink loop
        f"{root}/loop1/x",
        "/proc/self/root" + outside,  # /proc/self/root is the whole host
        "/proc/self/root/etc",
        f"/proc/{os.getpid()}/cwd/../../../../../../etc",
        f"{t['tmp']}/lib-evil",  # a sibling whose name the root's prefixes
        root.replace("/lib", "/l\u0456b"),  # Cyrillic look-alike of the root's name
        root + "\uff0f..\uff0foutside",  # fullwidth solidus: NFKC makes it '/'
        root + "/\u2024\u2024/outside",  # one-dot leaders look like ..
        root + "/" + "n" * 256,  # a name over 255 bytes
        root + "/" + "/".join(["d" * 200] * 21),  # a path over 4096 bytes
        root + "/a\x00/../../outside",  # NUL
        root + "/a\n",  # control character
        "lib/a",  # relative
        "",
        "/etc/shadow",
        "/",
    ]


TRICK_IDS = [
    "dotdot", "dotdot-deep", "symlink-chain", "symlink-chain-file", "symlink-loop", "symlink-loop-child",
    "proc-self-root", "proc-self-root-etc", "proc-pid-cwd", "prefix-sibling", "cyrillic-lookalike",
    "fullwidth-solidus", "one-dot-leaders", "long-name", "long-path", "nul", "newline", "relative", "empty",
    "etc-shadow", "slash",
]


@pytest.mark.parametrize("index", range(len(TRICK_IDS)), ids=TRICK_IDS)
def test_path_tricks_are_refused(tree, index) -> None:
    value = _tricks(tree)[index]
    with pytest.raises(PathNotAllowed):
        confine(value, (tree["root"].resolve(),))


def test_paths_inside_resolve_to_their_real_path(tree) -> None:
    root = tree["root"].resolve()
    assert confine(str(tree["root"]), (root,)) == root
    assert confine(f"{tree['root']}/inner", (root,)) == root / "a"
    assert confine(f"{tree['root']}/a/../a/new-dir", (root,)) == root / "a" / "new-dir"  # may not exist yet
    assert confine(f"{tree['root']}/caf\u00e9", (root,)) == root / "caf\u00e9"  # NFC text is fine


def test_non_strings_are_refused() -> None:
    for value in (None, 3, ["/x"], {"p": "/x"}):
        with pytest.raises(PathNotAllowed):
            confine(value, (Path("/"),))


def test_check_connection_names_the_field_and_returns_real_paths(tree) -> None:
    root = tree["root"].resolve()
    info = {"domains_dir": f"{tree['root']}/inner", "image_dirs": [str(tree["root"]), "/"], "accel": "tcg"}
    with pytest.raises(PathNotAllowed, match=r"^image_dirs\[1\]: is outside .* for kvm"):
        localpaths.check_connection("kvm", ("domains_dir", "image_dirs", "storage_dir"), info, (root,))
    info["image_dirs"] = [str(tree["root"])]
    out = localpaths.check_connection("kvm", ("domains_dir", "image_dirs", "storage_dir"), info, (root,))
    assert out == {"domains_dir": str(root / "a"), "image_dirs": [str(root)], "accel": "tcg"}


def test_roots_setting(tmp_path) -> None:
    defaults = parse_roots("", "/var/lib/coriolis")
    assert defaults == {k: (f"/var/lib/coriolis/library/{k}",) for k in ("ova", "kvm", "stub")}
    roots = parse_roots("ova=/srv/ova:/mnt/ova, *=/data", "/s")
    assert roots == {"ova": ("/srv/ova", "/mnt/ova", "/data"), "kvm": ("/data",), "stub": ("/data",)}
    for bad in ("ova", "ova=", "ova=relative"):
        with pytest.raises(ValueError, match="local_paths"):
            parse_roots(bad, "/s")


def test_project_placeholder_gives_each_project_its_folder(tmp_path) -> None:
    class S:
        local_paths = f"ova={tmp_path}/{{project_id}}"
        state_dir = str(tmp_path / "state")

    assert localpaths.roots_for(S, "ova", "proj-a") == ((tmp_path / "proj-a").resolve(),)
    assert localpaths.roots_for(S, "ova", None) == ()
    assert localpaths.roots_for(S, "ova", "..") == ()
    assert localpaths.roots_for(S, "kvm", "proj-a") == ((tmp_path / "state" / "library" / "kvm").resolve(),)
