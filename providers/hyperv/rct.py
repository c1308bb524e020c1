"""Hyper-V Resilient Change Tracking: reference points and the changed areas of a VHDX since one (WMI v2).

A sync asks for the areas changed since the reference point its replica committed, and gets a
new reference point (made from a recovery checkpoint) for the next one. The change id names
both: ``<reference point InstanceID>|<RCT id of the disk>``, plus the reference point it superseded
(``|<older InstanceID>``), which the following call destroys once its successor was committed.
Documented in Microsoft's WMI v2 reference: Msvm_VirtualSystemSnapshotService.CreateSnapshot
(SnapshotType 32768: recovery) and ConvertToReferencePoint, Msvm_VirtualSystemReferencePoint,
Msvm_VirtualSystemReferencePointService.DestroyReferencePoint, Msvm_ImageManagementService.GetVirtualDiskChanges.
"""

from __future__ import annotations

import re
from typing import Any

from providers.abilities import ChangedAreas
from providers.hyperv.powershell import as_list, script
from providers.types import ProviderError

GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")

# RCT needs a configuration version 8.0 VM (Windows Server 2016) and a VHDX that is not differencing.
CHANGES = r"""
$ns = 'root\virtualization\v2'
function Wait-CoriolisCim($result, $what) {
  if ($result.ReturnValue -eq 4096) {
    $job = $result.Job | Get-CimInstance
    while ($job.JobState -eq 3 -or $job.JobState -eq 4) {
      Start-Sleep -Milliseconds 500
      $job = $job | Get-CimInstance
    }
    if ($job.JobState -ne 7) { throw "$what failed: $($job.ErrorDescription)" }
    return $job
  }
  if ($result.ReturnValue -ne 0) { throw "$what failed with code $($result.ReturnValue)" }
  return $null
}
$vm = Get-VM -Id $vmId
$drive = @(Get-VMHardDiskDrive -VM $vm | Where-Object { [string]$_.ControllerType -eq $controllerType -and
  $_.ControllerNumber -eq $controllerNumber -and $_.ControllerLocation -eq $controllerLocation })
if ($drive.Count -ne 1 -or -not $drive[0].Path) {
  throw "VM $vmId has no virtual disk at $controllerType $controllerNumber $controllerLocation"
}
$vhd = Get-VHD -Path $drive[0].Path
if ([version]$vm.Version -lt [version]'8.0' -or [string]$vhd.VhdFormat -ne 'VHDX' -or
    [string]$vhd.VhdType -eq 'Differencing') {
  ConvertTo-Json -Compress -InputObject @([pscustomobject]@{ Supported = $false; Version = [string]$vm.Version })
  return
}
$system = Get-CimInstance -Namespace $ns -ClassName Msvm_ComputerSystem -Filter ("Name='" + $vmId + "'")
$points = @($system | Get-CimAssociatedInstance -ResultClassName Msvm_VirtualSystemReferencePoint `
  -Association Msvm_ReferencePointOfVirtualSystem)
$pointService = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePointService
foreach ($old in @($points | Where-Object { $_.InstanceID -eq $supersededPoint -and $supersededPoint -ne '' })) {
  $destroyed = Invoke-CimMethod -InputObject $pointService -MethodName DestroyReferencePoint -Arguments @{
    AffectedReferencePoint = $old }
  $null = Wait-CoriolisCim $destroyed 'DestroyReferencePoint'
}
$snapService = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotService
$settings = New-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotSettingData -ClientOnly -Property @{
  ConsistencyLevel = [uint16]1; IgnoreNonSnapshottableDisks = $true }
$serializer = [Microsoft.Management.Infrastructure.Serialization.CimSerializer]::Create()
$plain = [Microsoft.Management.Infrastructure.Serialization.InstanceSerializationOptions]::None
$embedded = [System.Text.Encoding]::Unicode.GetString($serializer.Serialize($settings, $plain))
$made = Invoke-CimMethod -InputObject $snapService -MethodName CreateSnapshot -Arguments @{
  AffectedSystem = $system; SnapshotSettings = $embedded; SnapshotType = [uint16]32768 }
$job = Wait-CoriolisCim $made 'CreateSnapshot'
$recovery = @($job | Get-CimAssociatedInstance -ResultClassName Msvm_VirtualSystemSettingData)[0]
$converted = Invoke-CimMethod -InputObject $snapService -MethodName ConvertToReferencePoint -Arguments @{
  AffectedSnapshot = $recovery }
$job = Wait-CoriolisCim $converted 'ConvertToReferencePoint'
$point = @($job | Get-CimAssociatedInstance -ResultClassName Msvm_VirtualSystemReferencePoint)[0]
$wanted = ([string]$vhd.DiskIdentifier).Trim('{}').ToUpper()
$rct = $null
for ($i = 0; $i -lt $point.VirtualDiskIdentifiers.Count; $i++) {
  if (([string]$point.VirtualDiskIdentifiers[$i]).Trim('{}').ToUpper() -eq $wanted) {
    $rct = $point.ResilientChangeTrackingIdentifiers[$i]
  }
}
if (-not $rct) { throw "reference point $($point.InstanceID) holds no RCT id for $($drive[0].Path)" }
$offsets = @(); $lengths = @(); $full = $true
if ($since -ne '') {
  $images = Get-CimInstance -Namespace $ns -ClassName Msvm_ImageManagementService
  $done = [uint64]0; $full = $false
  while ($done -lt $vhd.Size) {
    $answer = Invoke-CimMethod -InputObject $images -MethodName GetVirtualDiskChanges -Arguments @{
      Path = $drive[0].Path; LimitId = $since; TargetSnapshotId = ''
      ByteOffset = [uint64]$done; ByteLength = [uint64]($vhd.Size - $done) }
    if ($answer.ReturnValue -ne 0) { $full = $true; break }  # the baseline is gone (tracking reset, disk moved)
    $offsets += @($answer.ChangedByteOffsets); $lengths += @($answer.ChangedByteLengths)
    if ($answer.ProcessedByteLength -le 0) { $full = $true; break }
    $done += [uint64]$answer.ProcessedByteLength
  }
}
ConvertTo-Json -Compress -InputObject @([pscustomobject]@{
  Supported = $true; ReferencePoint = $point.InstanceID; RctId = $rct; Full = $full
  Offsets = $offsets; Lengths = $lengths })
"""


def changes_script(vm_id: str, disk_id: str, since: str | None) -> str:
    """The script that makes a reference point and reads a disk's changes since the change id ``since``.

    The reference point ``since`` superseded is destroyed: ``since`` was committed, so nothing needs it now.
    """
    _, since_rct, superseded_point = split_change_id(since)
    if not GUID.match(vm_id):
        raise ProviderError(f"{vm_id!r} is not a Hyper-V VM id")
    controller_type, number, location = disk_id.rsplit("-", 2)
    return script("rct-changes", CHANGES, vmId=vm_id, controllerType=controller_type,
                  controllerNumber=int(number), controllerLocation=int(location),
                  since=since_rct, supersededPoint=superseded_point)


def split_change_id(change_id: str | None) -> tuple[str, str, str]:
    """``(reference point, RCT id, superseded reference point)`` of a change id this module made; empty
    strings for none (or one it did not make)."""
    parts = (change_id or "").split("|")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else ("", "", "")


def parse_changes(answer: list[dict[str, Any]], since: str | None) -> ChangedAreas:
    """The script's answer as ``ChangedAreas``: full when RCT is not offered or the baseline is gone."""
    if not answer or not answer[0].get("Supported"):
        return ChangedAreas(change_id="", full=True)
    result = answer[0]
    previous = split_change_id(since)[0]
    change_id = f"{result['ReferencePoint']}|{result['RctId']}|{previous}"
    offsets, lengths = as_list(result.get("Offsets")), as_list(result.get("Lengths"))
    if result.get("Full") or not since or len(offsets) != len(lengths):
        return ChangedAreas(change_id=change_id, full=True)
    extents = sorted((int(o), int(n)) for o, n in zip(offsets, lengths, strict=True) if int(n) > 0)
    return ChangedAreas(change_id=change_id, extents=extents)
