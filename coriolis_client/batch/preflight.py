"""The ``--dry-run`` preflight: everything a plan needs is checked before anything moves.

Each check ends ``ok``, ``failed`` or ``skipped``; a skipped check says why (the API or the
provider cannot answer it), so that nobody reads a skip as a pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from coriolis_client import errors
from coriolis_client.batch.plan import Plan
from coriolis_client.client import Client

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass(frozen=True)
class Check:
    check: str
    subject: str
    status: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Preflight:
    """The checks' outcomes, and what later checks need (resolved endpoints, source instances)."""

    checks: list[Check]
    endpoints: dict[str, dict[str, Any]]
    instances: dict[str, dict[str, Any]]

    @property
    def ok(self) -> bool:
        return not any(c.status == FAILED for c in self.checks)

    def add(self, check: str, subject: str, status: str, message: str) -> None:
        self.checks.append(Check(check, subject, status, message))


def _endpoints(client: Client, plan: Plan, pre: Preflight) -> None:
    providers = client.providers.list()
    for role, ref, ability in (("origin", plan.origin_endpoint, "source"),
                               ("destination", plan.destination_endpoint, "destination")):
        try:
            endpoint = client.endpoints.find(ref)
        except errors.NotFound as exc:
            pre.add("endpoint exists", ref, FAILED, exc.message)
            continue
        pre.endpoints[role] = endpoint
        pre.add("endpoint exists", ref, OK, f"{endpoint['type']} endpoint {endpoint['id']}")
        abilities = (providers.get(endpoint["type"]) or {}).get("abilities", [])
        if ability not in abilities:
            pre.add("provider role", ref, FAILED, f"provider {endpoint['type']!r} cannot be a {ability}")
        result = client.endpoints.validate(endpoint["id"])
        pre.add("endpoint validates", ref, OK if result.get("valid") else FAILED,
                result.get("message") or ("connection valid" if result.get("valid") else "connection invalid"))


def _environments(client: Client, plan: Plan, pre: Preflight) -> None:
    """Every environment key a VM sets is one its provider's schema knows (flavor included)."""
    for role, kind, attr in (("origin", "source", "source_environment"),
                             ("destination", "destination", "destination_environment")):
        endpoint = pre.endpoints.get(role)
        if endpoint is None:
            continue
        try:
            schema = client.providers.schema(endpoint["type"], kind)
        except errors.APIError as exc:
            pre.add(f"{kind} options", endpoint["type"], SKIPPED, f"no schema: {exc.message}")
            continue
        known = set(schema.get("properties") or {})
        strict = schema.get("additionalProperties") is False
        for vm in plan.vms:
            unknown = sorted(set(getattr(vm, attr)) - known)
            if unknown and strict:
                pre.add(f"{kind} options", vm.name, FAILED,
                        f"provider {endpoint['type']!r} has no option {', '.join(unknown)}"
                        + (" (flavor sets flavor_name)" if "flavor_name" in unknown else ""))
        if not any(c.check == f"{kind} options" and c.status == FAILED for c in pre.checks):
            pre.add(f"{kind} options", endpoint["type"], OK, f"every VM's {attr} uses known options")


def _vms(client: Client, plan: Plan, pre: Preflight) -> None:
    origin = pre.endpoints.get("origin")
    if origin is None:
        pre.add("VMs exist", "source", SKIPPED, "the origin endpoint was not found")
        return
    for vm in plan.vms:
        try:
            pre.instances[vm.name] = client.endpoints.instance(origin["id"], vm.name)
        except errors.NotFound as exc:
            pre.add("VM exists", vm.name, FAILED, exc.message)
        except errors.APIError as exc:
            pre.add("VM exists", vm.name, FAILED, f"cannot look it up: {exc.message}")
    found = sum(1 for vm in plan.vms if vm.name in pre.instances)
    pre.add("VMs exist", "source", OK if found == len(plan.vms) else FAILED,
            f"{found} of {len(plan.vms)} VMs found on {origin['name']}")


def _networks(plan: Plan, pre: Preflight) -> None:
    """A network map names source networks the VM has; destination networks cannot be listed."""
    for vm in plan.vms:
        info = pre.instances.get(vm.name)
        if info is None:
            continue
        nets = {nic.get("network_name") for nic in (info.get("devices") or {}).get("nics") or []}
        stray = sorted(set(vm.network_map) - nets)
        if stray:
            pre.add("network map", vm.name, FAILED,
                    f"maps {', '.join(stray)}, which the VM has no NIC on (its networks: "
                    f"{', '.join(sorted(n for n in nets if n)) or 'none'})")
        unmapped = sorted(n for n in nets - set(vm.network_map) if n)
        if vm.network_map and unmapped:
            pre.add("network map", vm.name, FAILED, f"no mapping for the VM's network(s) {', '.join(unmapped)}")
    dest = pre.endpoints.get("destination")
    if dest is not None:
        pre.add("destination networks", dest["name"], SKIPPED,
                f"the API lists no networks of {dest['type']!r} endpoints; destination network names are "
                "checked when each migration starts")


def _capacity(plan: Plan, pre: Preflight) -> None:
    needed = sum(d.get("size_bytes") or 0 for info in pre.instances.values()
                 for d in (info.get("devices") or {}).get("disks") or [])
    dest = pre.endpoints.get("destination")
    if dest is None:
        return
    pre.add("destination capacity", dest["name"], SKIPPED,
            f"provider {dest['type']!r} reports no free capacity through the API; the plan's disks need "
            f"{needed / (1 << 30):.2f} GiB ({needed} bytes) at most")


def run_preflight(client: Client, plan: Plan) -> Preflight:
    """Run every check of the plan against the API; nothing is created."""
    pre = Preflight([], {}, {})
    _endpoints(client, plan, pre)
    _environments(client, plan, pre)
    _vms(client, plan, pre)
    _networks(plan, pre)
    _capacity(plan, pre)
    return pre
