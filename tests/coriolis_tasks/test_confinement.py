"""The worker checks host paths again before it opens any: a path changed underneath is refused."""

from __future__ import annotations

import pytest

from coriolis_tasks.connections import confine_local_paths, resolve_connection_info
from providers.registry import get_provider
from providers.types import ProviderError


def test_a_library_swapped_for_a_symlink_after_the_api_check_is_refused(tmp_path) -> None:
    spec = get_provider("ova")
    library = tmp_path / "library"
    library.mkdir()
    info = {"path": str(library)}
    assert resolve_connection_info(info, spec, project_id="p") == {"path": str(library.resolve())}
    library.rmdir()
    library.symlink_to("/etc")  # what the API saw is now a way out
    with pytest.raises(ProviderError, match=r"connection_info.path: is outside"):
        resolve_connection_info(info, spec, project_id="p")


def test_the_provider_gets_the_real_paths_and_a_default_storage_dir(tmp_path) -> None:
    stub = get_provider("stub")
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    out = confine_local_paths(stub, {"storage_dir": str(tmp_path / "alias" / "dest")}, "p")
    assert out["storage_dir"] == str((tmp_path / "real" / "dest").resolve())
    default = confine_local_paths(stub, {}, "p")["storage_dir"]  # the first allowed root
    from tests.conftest import TEST_LOCAL_ROOTS

    assert default == str(TEST_LOCAL_ROOTS[0].resolve())


def test_kvm_image_dirs_of_the_whole_host_are_refused_by_the_worker_too(tmp_path) -> None:
    with pytest.raises(ProviderError, match=r"image_dirs\[0\]: is outside"):
        confine_local_paths(get_provider("kvm"), {"domains_dir": str(tmp_path), "image_dirs": ["/"]}, "p")
