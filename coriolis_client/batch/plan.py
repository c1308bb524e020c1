"""The batch plan file (YAML): endpoints, defaults, and waves of VMs with per-VM overrides.

See ``docs/batch.rst`` for the format. :func:`load_plan` checks the whole file and reports every
problem at once, each with its place in the file (``waves[1].vms[3].network_map``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAPPINGS = ("source_environment", "destination_environment", "network_map", "storage_mappings")
FLAGS = ("skip_os_morphing", "shutdown_instances")
VM_KEYS = {"name", "flavor", "timeout", *MAPPINGS, *FLAGS}
DEFAULT_KEYS = {"flavor", "timeout", *MAPPINGS, *FLAGS}
PLAN_KEYS = {"version", "name", "origin_endpoint", "destination_endpoint", "defaults", "waves", "poll_interval",
             "stop_on_failure"}
WAVE_KEYS = {"name", "concurrency", "vms"}


class PlanError(ValueError):
    """The plan file is not valid; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid plan:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class VmPlan:
    """One VM of the plan with the defaults applied: the migration it becomes."""

    name: str
    wave: str
    source_environment: dict[str, Any]
    destination_environment: dict[str, Any]
    network_map: dict[str, str]
    storage_mappings: dict[str, Any]
    skip_os_morphing: bool = False
    shutdown_instances: bool = False
    timeout: float | None = None

    def body(self) -> dict[str, Any]:
        """The migration request fields of this VM (without the endpoint ids)."""
        return {
            "source_environment": self.source_environment,
            "destination_environment": self.destination_environment,
            "network_map": self.network_map,
            "storage_mappings": self.storage_mappings,
            "skip_os_morphing": self.skip_os_morphing,
            "shutdown_instances": self.shutdown_instances,
        }


@dataclass(frozen=True)
class Wave:
    name: str
    concurrency: int
    vms: tuple[VmPlan, ...]


@dataclass(frozen=True)
class Plan:
    name: str
    path: Path
    origin_endpoint: str
    destination_endpoint: str
    waves: tuple[Wave, ...]
    poll_interval: float = 2.0
    stop_on_failure: bool = False
    vms: tuple[VmPlan, ...] = field(default=())


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out.update(copy.deepcopy(over))
    return out


def _check_mapping(value: Any, where: str, problems: list[str], strings: bool = False) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a mapping")
        return {}
    if strings and not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        problems.append(f"{where}: keys and values must be strings")
    return value


def _unknown(data: dict, allowed: set[str], where: str, problems: list[str]) -> None:
    for key in sorted(set(data) - allowed):
        problems.append(f"{where}{key}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _options(data: dict, where: str, problems: list[str]) -> dict[str, Any]:
    """The overridable fields of a ``defaults`` block or a VM entry, checked."""
    out: dict[str, Any] = {}
    for key in MAPPINGS:
        if key in data:
            out[key] = _check_mapping(data[key], f"{where}{key}", problems, strings=key == "network_map")
    for key in FLAGS:
        if key in data:
            if not isinstance(data[key], bool):
                problems.append(f"{where}{key}: must be true or false")
            out[key] = bool(data[key])
    if "flavor" in data:
        if not isinstance(data["flavor"], str) or not data["flavor"]:
            problems.append(f"{where}flavor: must be a non-empty string")
        out["flavor"] = data["flavor"]
    if "timeout" in data:
        if not isinstance(data["timeout"], int | float) or isinstance(data["timeout"], bool) or data["timeout"] <= 0:
            problems.append(f"{where}timeout: must be a positive number of seconds")
        out["timeout"] = data["timeout"]
    return out


def _vm(entry: Any, wave: str, defaults: dict[str, Any], where: str, problems: list[str]) -> VmPlan | None:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        problems.append(f"{where}: a VM is a name or a mapping with a name")
        return None
    _unknown(entry, VM_KEYS, f"{where}.", problems)
    own = _options(entry, f"{where}.", problems)
    merged = {key: _merge(defaults.get(key) or {}, own.get(key) or {}) for key in
              ("source_environment", "destination_environment", "network_map")}
    storage = copy.deepcopy(own.get("storage_mappings", defaults.get("storage_mappings") or {}))
    flavor = own.get("flavor", defaults.get("flavor"))
    if flavor:
        merged["destination_environment"]["flavor_name"] = flavor
    return VmPlan(
        name=entry["name"], wave=wave, storage_mappings=storage,
        skip_os_morphing=own.get("skip_os_morphing", defaults.get("skip_os_morphing", False)),
        shutdown_instances=own.get("shutdown_instances", defaults.get("shutdown_instances", False)),
        timeout=own.get("timeout", defaults.get("timeout")), **merged,
    )


def parse_plan(data: Any, path: Path) -> Plan:
    """A plan from its decoded YAML document; raises :class:`PlanError` listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise PlanError(["the plan must be a mapping"])
    _unknown(data, PLAN_KEYS, "", problems)
    if data.get("version", 1) != 1:
        problems.append("version: only version 1 is known")
    for key in ("origin_endpoint", "destination_endpoint"):
        if not isinstance(data.get(key), str) or not data[key]:
            problems.append(f"{key}: required (an endpoint name or id)")
    defaults_raw = data.get("defaults") or {}
    if not isinstance(defaults_raw, dict):
        problems.append("defaults: must be a mapping")
        defaults_raw = {}
    _unknown(defaults_raw, DEFAULT_KEYS, "defaults.", problems)
    defaults = _options(defaults_raw, "defaults.", problems)
    waves_raw = data.get("waves")
    if not isinstance(waves_raw, list) or not waves_raw:
        problems.append("waves: required, a list of waves")
        waves_raw = []
    waves: list[Wave] = []
    seen: dict[str, str] = {}
    for n, wave in enumerate(waves_raw):
        where = f"waves[{n}]"
        if not isinstance(wave, dict):
            problems.append(f"{where}: must be a mapping with vms")
            continue
        _unknown(wave, WAVE_KEYS, f"{where}.", problems)
        name = str(wave.get("name") or f"wave-{n + 1}")
        concurrency = wave.get("concurrency", 5)
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            problems.append(f"{where}.concurrency: must be a positive integer")
            concurrency = 1
        entries = wave.get("vms")
        if not isinstance(entries, list) or not entries:
            problems.append(f"{where}.vms: required, a non-empty list")
            entries = []
        vms = []
        for i, entry in enumerate(entries):
            vm = _vm(entry, name, defaults, f"{where}.vms[{i}]", problems)
            if vm is None:
                continue
            if vm.name in seen:
                problems.append(f"{where}.vms[{i}]: {vm.name!r} is already in {seen[vm.name]}")
                continue
            seen[vm.name] = f"{where}.vms[{i}]"
            vms.append(vm)
        waves.append(Wave(name, concurrency, tuple(vms)))
    poll = data.get("poll_interval", 2.0)
    if not isinstance(poll, int | float) or isinstance(poll, bool) or poll <= 0:
        problems.append("poll_interval: must be a positive number of seconds")
    if problems:
        raise PlanError(problems)
    return Plan(
        name=str(data.get("name") or path.stem), path=path, origin_endpoint=data["origin_endpoint"],
        destination_endpoint=data["destination_endpoint"], waves=tuple(waves), poll_interval=float(poll),
        stop_on_failure=bool(data.get("stop_on_failure", False)),
        vms=tuple(vm for wave in waves for vm in wave.vms),
    )


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError([f"cannot read {path}: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise PlanError([f"{path} is not YAML: {exc}"]) from None
    return parse_plan(data, path)
