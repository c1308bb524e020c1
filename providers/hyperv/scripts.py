"""The PowerShell scripts the hyperv source runs on a Hyper-V host (Hyper-V module cmdlets).

Every script projects what it reads into plain objects of our own shape (enums as strings) and
ends in ``ConvertTo-Json``, so the answer does not depend on the PowerShell version's enum
serialisation. Values reach a script only as quoted ``$name = '...'`` parameter lines.
"""

from __future__ import annotations

from providers.hyperv.powershell import script

# One VM in our projection: the shape ``inventory.describe`` reads (scvmm scripts write it too).
DESCRIBE_VM = r"""
function ConvertTo-CoriolisVm($vm) {
  $secure = $null
  if ($vm.Generation -eq 2) { $secure = [string](Get-VMFirmware -VM $vm).SecureBoot }
  $drives = @(foreach ($d in @(Get-VMHardDiskDrive -VM $vm)) {
    $vhd = $null
    if ($null -eq $d.DiskNumber -and $d.Path) { $vhd = Get-VHD -Path $d.Path }
    [pscustomobject]@{
      ControllerType = [string]$d.ControllerType; ControllerNumber = $d.ControllerNumber
      ControllerLocation = $d.ControllerLocation; DiskNumber = $d.DiskNumber
      Path = $(if ($null -eq $d.DiskNumber) { $d.Path } else { $null })
      Size = $(if ($vhd) { $vhd.Size } else { $null })
      VhdFormat = $(if ($vhd) { [string]$vhd.VhdFormat } else { $null })
      VhdType = $(if ($vhd) { [string]$vhd.VhdType } else { $null })
      ParentPath = $(if ($vhd) { $vhd.ParentPath } else { $null })
    }
  })
  $nics = @(foreach ($n in @(Get-VMNetworkAdapter -VM $vm)) {
    [pscustomobject]@{
      Id = [string]$n.Id; Name = $n.Name; MacAddress = $n.MacAddress; SwitchName = $n.SwitchName
      VlanId = (Get-VMNetworkAdapterVlan -VMNetworkAdapter $n).AccessVlanId; IsLegacy = [bool]$n.IsLegacy
      IPAddresses = @($n.IPAddresses)
    }
  })
  $services = @(foreach ($s in @(Get-VMIntegrationService -VM $vm)) {
    [pscustomobject]@{ Name = $s.Name; Enabled = [bool]$s.Enabled; PrimaryStatus = [string]$s.PrimaryStatusDescription }
  })
  [pscustomobject]@{
    Id = [string]$vm.Id; Name = $vm.Name; Generation = $vm.Generation; State = [string]$vm.State
    ProcessorCount = $vm.ProcessorCount; MemoryStartup = $vm.MemoryStartup; ComputerName = $vm.ComputerName
    SecureBoot = $secure; HardDrives = $drives; NetworkAdapters = $nics; IntegrationServices = $services
  }
}
"""

FIND_VM = r"""
$found = @(Get-VM | Where-Object { [string]$_.Id -eq $instance -or $_.Name -eq $instance })
"""

ABOUT = r"""
$h = Get-VMHost
ConvertTo-Json -Compress -InputObject @([pscustomobject]@{
  Name = $h.Name; ComputerName = $h.ComputerName; VirtualHardDiskPath = $h.VirtualHardDiskPath
  PowerShell = [string]$PSVersionTable.PSVersion
})
"""

LIST_VMS = DESCRIBE_VM + r"""
$page = @(Get-VM | Where-Object { $filter -eq '' -or $_.Name -like ('*' + [WildcardPattern]::Escape($filter) + '*') } |
  Sort-Object -Property Name, Id | Select-Object -Skip $skip -First $first)
ConvertTo-Json -Depth 6 -Compress -InputObject @(foreach ($vm in $page) { ConvertTo-CoriolisVm $vm })
"""

GET_VM = DESCRIBE_VM + FIND_VM + r"""
ConvertTo-Json -Depth 6 -Compress -InputObject @(foreach ($vm in $found) { ConvertTo-CoriolisVm $vm })
"""

SWITCHES = r"""
ConvertTo-Json -Compress -InputObject @(foreach ($s in @(Get-VMSwitch)) {
  [pscustomobject]@{ Id = [string]$s.Id; Name = $s.Name; SwitchType = [string]$s.SwitchType
                     NetAdapterInterfaceDescription = $s.NetAdapterInterfaceDescription }
})
"""

CHECKPOINT_DRIVES = r"""
function Get-CoriolisCheckpointDrives($vm) {
  $snap = @(Get-VMSnapshot -VM $vm -Name $name -ErrorAction SilentlyContinue)
  if ($snap.Count -eq 0) { return @() }
  @(foreach ($d in @(Get-VMHardDiskDrive -VMSnapshot $snap[0])) {
    [pscustomobject]@{ ControllerType = [string]$d.ControllerType; ControllerNumber = $d.ControllerNumber
                       ControllerLocation = $d.ControllerLocation; Path = $d.Path }
  })
}
$vm = Get-VM -Id $vmId
"""

# ProductionOnly fails rather than falling back to a standard (crash-consistent with memory) checkpoint.
CREATE_CHECKPOINT = CHECKPOINT_DRIVES + r"""
$previous = $vm.CheckpointType
if ($checkpointType -ne [string]$previous) { Set-VM -VM $vm -CheckpointType $checkpointType }
try {
  Checkpoint-VM -VM $vm -SnapshotName $name -Confirm:$false
} finally {
  if ($checkpointType -ne [string]$previous) { Set-VM -VM $vm -CheckpointType $previous }
}
ConvertTo-Json -Compress -InputObject @(Get-CoriolisCheckpointDrives $vm)
"""

GET_CHECKPOINT = CHECKPOINT_DRIVES + r"""
ConvertTo-Json -Compress -InputObject @(Get-CoriolisCheckpointDrives $vm)
"""

# Removing a checkpoint merges its AVHDX files into their parents; wait for the merge to finish.
REMOVE_CHECKPOINT = r"""
$vm = @(Get-VM | Where-Object { [string]$_.Id -eq $vmId })
$removed = 0
if ($vm.Count -gt 0) {
  foreach ($s in @(Get-VMSnapshot -VM $vm[0] -Name $name -ErrorAction SilentlyContinue)) {
    Remove-VMSnapshot -VMSnapshot $s -Confirm:$false
    $removed += 1
  }
  $deadline = (Get-Date).AddSeconds($timeout)
  while ((Get-VM -Id $vmId).Status -like 'Merging*' -and (Get-Date) -lt $deadline) { Start-Sleep -Seconds 2 }
}
ConvertTo-Json -Compress -InputObject @([pscustomobject]@{ Removed = $removed })
"""

POWER_OFF = r"""
$vm = Get-VM -Id $vmId
if ([string]$vm.State -ne 'Off') { Stop-VM -VM $vm -Force -Confirm:$false }
ConvertTo-Json -Compress -InputObject @([pscustomobject]@{ State = [string](Get-VM -Id $vmId).State })
"""


def about() -> str:
    return script("about", ABOUT)


def list_vms(name_filter: str, skip: int, first: int) -> str:
    return script("list-vms", LIST_VMS, filter=name_filter, skip=skip, first=first)


def get_vm(instance: str) -> str:
    return script("get-vm", GET_VM, instance=instance)


def switches() -> str:
    return script("list-switches", SWITCHES)


def create_checkpoint(vm_id: str, name: str, checkpoint_type: str) -> str:
    return script("create-checkpoint", CREATE_CHECKPOINT, vmId=vm_id, name=name, checkpointType=checkpoint_type)


def get_checkpoint(vm_id: str, name: str) -> str:
    return script("get-checkpoint", GET_CHECKPOINT, vmId=vm_id, name=name)


def remove_checkpoint(vm_id: str, name: str, timeout: int) -> str:
    return script("remove-checkpoint", REMOVE_CHECKPOINT, vmId=vm_id, name=name, timeout=timeout)


def power_off(vm_id: str) -> str:
    return script("power-off", POWER_OFF, vmId=vm_id)
