"""The pyvmomi connection to vCenter or ESXi: with ``devices.py``, the only module that imports pyvmomi.

Everything else in the provider receives managed objects from here and reads their plain
attributes; specs and faults stay inside this module, device classes in ``devices.py``.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

from pyVim import connect
from pyVmomi import SoapStubAdapter, vim, vmodl

from providers import netpolicy
from providers.types import InstanceNotFound, ProviderError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ChangedAreas:
    """One answer of QueryChangedDiskAreas: the window it covers and the changed ranges in it."""

    start_offset: int
    length: int
    areas: tuple[tuple[int, int], ...]


class LeaseUnsupported(ProviderError):
    """The server offers no export lease for this entity (``ExportVm``/``ExportSnapshot`` missing)."""


@dataclass(frozen=True)
class DeviceUrl:
    """One file an export lease serves: ``key`` names the device (``/vm-42/VirtualLsiLogicController0:0``)."""

    key: str
    url: str
    disk: bool
    target_id: str | None = None
    file_size: int | None = None


@dataclass(frozen=True)
class LeaseInfo:
    """What a ready export lease offers."""

    device_urls: tuple[DeviceUrl, ...]
    total_disk_capacity_kb: int
    timeout_seconds: int | None


_UNSUPPORTED_FAULTS = (vmodl.fault.MethodNotFound, vmodl.fault.NotSupported, vmodl.fault.NotImplemented)


def _fault_message(fault: Any) -> str:
    """A user-facing line for a vSphere fault (its localized message, else its type)."""
    text = getattr(fault, "msg", None) or getattr(fault, "localizedMessage", None)
    name = type(fault).__name__.rsplit(".", 1)[-1]
    return f"{name}: {text}" if text else name


class VsphereClient:
    """A logged-in vSphere session.

    Args:
        host: vCenter or ESXi host (checked against the endpoint host policy before connecting).
        port: HTTPS port of the SDK.
        username: user name.
        password: password (never logged nor put in messages).
        allow_untrusted: skip certificate verification.
        timeout: seconds a vSphere task may take.
    """

    def __init__(
        self, host: str, port: int, username: str, password: str, *, allow_untrusted: bool = False,
        timeout: float = 600,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.allow_untrusted = allow_untrusted
        self.timeout = timeout
        self._si: Any = None
        self._stub: Any = None
        self.scheme = "https"

    @classmethod
    def without_login(cls, url_host: str, port: int, *, timeout: float = 30) -> VsphereClient:
        """A client over plain HTTP that does not log in: for replaying recorded SOAP answers in tests."""
        client = cls(url_host, port, "", "", allow_untrusted=True, timeout=timeout)
        client._stub = SoapStubAdapter(host=url_host, port=-port, version="vim.version.version11")
        client.scheme = "http"
        return client

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.allow_untrusted:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def connect(self) -> VsphereClient:
        """Log in (once); raises ``ProviderError`` with a readable reason."""
        if self._si is not None or self._stub is not None:
            return self
        try:
            netpolicy.check_host(self.host)
        except netpolicy.HostNotAllowed as exc:
            raise ProviderError(str(exc)) from None
        try:
            self._si = connect.SmartConnect(
                host=self.host, port=self.port, user=self.username, pwd=self._password,
                sslContext=self.ssl_context(),
            )
        except vim.fault.InvalidLogin:
            raise ProviderError(f"vSphere at {self.host}:{self.port} refused the user name or password") from None
        except ssl.SSLError as exc:
            raise ProviderError(
                f"TLS with {self.host}:{self.port} failed ({exc.reason}); set allow_untrusted for a "
                "self-signed certificate"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ProviderError(f"cannot reach vSphere at {self.host}:{self.port}: {type(exc).__name__}") from None
        except vmodl.MethodFault as exc:
            raise ProviderError(f"vSphere login failed: {_fault_message(exc)}") from None
        self._stub = self._si._stub
        return self

    def close(self) -> None:
        if self._si is not None:
            try:
                connect.Disconnect(self._si)
            except Exception:  # the session may already be gone; closing must not fail
                log.debug("vSphere logout failed", exc_info=True)
        self._si = None
        self._stub = None

    def __enter__(self) -> VsphereClient:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def content(self) -> Any:
        if self._si is None:
            self.connect()
        return self._si.RetrieveContent()

    def about(self) -> dict[str, str]:
        """What the server says it is (product, API version, instance uuid)."""
        about = self.content.about
        return {
            "full_name": about.fullName,
            "api_type": about.apiType,
            "api_version": about.apiVersion,
            "instance_uuid": about.instanceUuid or "",
        }

    def session_cookie(self) -> str:
        """The ``vmware_soap_session=...`` pair, for the datastore HTTP file interface."""
        self.connect()
        return str(self._stub.cookie or "").split(";", 1)[0].strip()

    def virtual_machines(self) -> list[Any]:
        """Every VM and template of the inventory."""
        return self._all(vim.VirtualMachine)

    def _all(self, kind: Any) -> list[Any]:
        content = self.content
        view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
        try:
            return list(view.view)
        finally:
            view.Destroy()

    def networks(self) -> list[Any]:
        """Every network: standard port groups, distributed port groups, opaque (NSX) networks."""
        return self._all(vim.Network)

    def datastores(self) -> list[Any]:
        """Every datastore."""
        return self._all(vim.Datastore)

    def vm_by_id(self, moid: str) -> Any:
        """A VM reference by managed object id (``vm-42``), bound to this session."""
        self.connect()
        return vim.VirtualMachine(moid, self._stub)

    def find_vm(self, instance: str) -> Any:
        """A VM by managed object id, instance or BIOS uuid, or unique name."""
        vms = self.virtual_machines()
        for vm in vms:
            if vm._moId == instance:
                return vm
        by_uuid = [vm for vm in vms if vm.config and instance in (vm.config.instanceUuid, vm.config.uuid)]
        if len(by_uuid) == 1:
            return by_uuid[0]
        named = [vm for vm in vms if vm.name == instance]
        if len(named) > 1:
            ids = ", ".join(vm._moId for vm in named)
            raise ProviderError(f"several VMs are named {instance!r}; use the id ({ids})")
        if not named:
            raise InstanceNotFound(f"no VM or template {instance!r} on {self.host}")
        return named[0]

    def wait(self, task: Any, what: str, *, want_result: bool = False) -> Any:
        """Wait for a task; raise ``ProviderError`` when it fails or times out.

        Only ``info.state``/``info.error`` are read: the full ``info`` of some tasks (snapshot
        removal on vcsim) names an entity older pyvmomi cannot parse.
        """
        collector = self.content.propertyCollector
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=task)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Task, pathSet=["info.state", "info.error"])],
        )
        deadline = time.monotonic() + self.timeout
        while True:
            found = collector.RetrieveContents([spec])
            props = {p.name: p.val for p in found[0].propSet} if found else {}
            state = props.get("info.state")
            if state == "success":
                return task.info.result if want_result else None
            if state == "error":
                raise ProviderError(f"{what} failed: {_fault_message(props.get('info.error'))}")
            if time.monotonic() > deadline:
                raise ProviderError(f"{what} did not finish within {self.timeout:.0f} s")
            time.sleep(POLL_SECONDS)

    def call(self, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a vSphere method, turning faults into ``ProviderError``."""
        try:
            return method(*args, **kwargs)
        except vmodl.MethodFault as exc:
            raise ProviderError(f"{what} failed: {_fault_message(exc)}") from None

    def create_snapshot(self, vm: Any, name: str, description: str) -> Any:
        task = self.call("creating a snapshot", vm.CreateSnapshot_Task, name=name, description=description,
                         memory=False, quiesce=False)
        return self.wait(task, f"snapshot {name} of {vm.name}", want_result=True)

    def remove_snapshot(self, snapshot: Any, name: str) -> None:
        task = self.call("removing a snapshot", snapshot.RemoveSnapshot_Task, removeChildren=False)
        self.wait(task, f"removing snapshot {name}")

    def power_off(self, vm: Any) -> None:
        if vm.runtime.powerState != "poweredOff":
            self.wait(self.call("powering off", vm.PowerOffVM_Task), f"powering off {vm.name}")

    def set_change_tracking(self, vm: Any, enabled: bool) -> None:
        spec = vim.vm.ConfigSpec(changeTrackingEnabled=enabled)
        self.wait(self.call("reconfiguring", vm.ReconfigVM_Task, spec=spec), f"changed-block tracking on {vm.name}")

    def query_changed_areas(
        self, vm: Any, snapshot: Any, device_key: int, start_offset: int, change_id: str
    ) -> ChangedAreas:
        """One QueryChangedDiskAreas call (the caller loops over the disk)."""
        info = self.call(
            "QueryChangedDiskAreas", vm.QueryChangedDiskAreas,
            snapshot=snapshot, deviceKey=device_key, startOffset=start_offset, changeId=change_id,
        )
        areas = tuple((int(a.start), int(a.length)) for a in (info.changedArea or ()))
        return ChangedAreas(int(info.startOffset), int(info.length), areas)

    def export_lease(self, entity: Any) -> Any:
        """An NFC export lease on a VM or template (``ExportVm``) or a snapshot (``ExportSnapshot``).

        Raises:
            LeaseUnsupported: the server does not offer that method (vcsim, some hosts).
            ProviderError: any other fault (the VM is powered on, a task is in progress...).
        """
        is_snapshot = isinstance(entity, vim.vm.Snapshot)
        method = "ExportSnapshot" if is_snapshot else "ExportVm"
        try:
            return entity.ExportSnapshot() if is_snapshot else entity.ExportVm()
        except _UNSUPPORTED_FAULTS as exc:
            raise LeaseUnsupported(f"{method} is not offered by {self.host}: {_fault_message(exc)}") from None
        except vmodl.MethodFault as exc:
            raise ProviderError(f"{method} failed: {_fault_message(exc)}") from None

    def lease_state(self, lease: Any) -> tuple[str, str | None]:
        """The lease's state (``initializing``, ``ready``, ``done``, ``error``) and its error message."""
        state = str(self.call("reading the export lease", getattr, lease, "state"))
        error = self.call("reading the export lease", getattr, lease, "error") if state == "error" else None
        return state, (_fault_message(error) if error is not None else None)

    def lease_info(self, lease: Any) -> LeaseInfo:
        """The device URLs of a ready lease (plain values; no SDK object leaves this module)."""
        info = self.call("reading the export lease", getattr, lease, "info")
        if info is None:
            raise ProviderError("the export lease is ready but offers no device URLs")
        urls = tuple(
            DeviceUrl(
                key=str(d.key or ""), url=str(d.url or ""), disk=bool(d.disk), target_id=d.targetId,
                file_size=int(d.fileSize) if d.fileSize is not None else None,
            )
            for d in info.deviceUrl or ()
        )
        timeout = int(info.leaseTimeout) if info.leaseTimeout is not None else None
        return LeaseInfo(urls, int(info.totalDiskCapacityInKB or 0), timeout)

    def lease_progress(self, lease: Any, percent: int) -> None:
        """``HttpNfcLeaseProgress``: keeps the lease from timing out."""
        self.call("HttpNfcLeaseProgress", lease.HttpNfcLeaseProgress, percent=max(0, min(100, int(percent))))

    def lease_complete(self, lease: Any) -> None:
        self.call("HttpNfcLeaseComplete", lease.HttpNfcLeaseComplete)

    def lease_abort(self, lease: Any, reason: str, *, cancelled: bool = False) -> None:
        """``HttpNfcLeaseAbort`` with a fault saying why (a cancel or an error)."""
        fault = vmodl.fault.RequestCanceled(msg=reason) if cancelled else vmodl.fault.SystemError(reason=reason)
        self.call("HttpNfcLeaseAbort", lease.HttpNfcLeaseAbort, fault=fault)

    def datacenter_path(self, entity: Any) -> str:
        """The inventory path of the datacenter holding ``entity`` (the ``dcPath`` of datastore URLs)."""
        node = entity
        while node is not None and not isinstance(node, vim.Datacenter):
            node = node.parent
        if node is None:
            raise ProviderError(f"{entity.name} is in no datacenter")
        return self.inventory_path(node)

    def inventory_path(self, entity: Any) -> str:
        """``DC0/vm/prod``: the names from below the root folder down to ``entity``."""
        names = []
        root = self.content.rootFolder
        node = entity
        while node is not None and node != root:
            names.append(node.name)
            node = node.parent
        return "/".join(reversed(names))

    def vm_folders(self) -> list[Any]:
        """Every folder that holds VMs and templates (a datacenter's ``vm`` folder and those below it)."""
        return [f for f in self._all(vim.Folder) if "VirtualMachine" in (f.childType or ())]

    def clusters(self) -> list[Any]:
        """Every cluster of hosts."""
        return self._all(vim.ClusterComputeResource)
