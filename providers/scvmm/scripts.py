"""The PowerShell scripts the scvmm source runs on a VMM server (VirtualMachineManager module cmdlets).

They write the same projection as the hyperv scripts (``hyperv.inventory.describe`` reads both), plus
``HostName``: the Hyper-V host a VM runs on, whose files the disk reads go to.
"""

from __future__ import annotations

from providers.hyperv.powershell import script

CONNECT = r"""
Import-Module VirtualMachineManager
$vmm = Get-SCVMMServer -ComputerName $server
"""

DESCRIBE_VM = CONNECT + r"""
function ConvertTo-CoriolisVm($vm) {
  $drives = @(foreach ($d in @(Get-SCVirtualDiskDrive -VM $vm)) {
    $vhd = $d.VirtualHardDisk
    $pass = $null -ne $d.PassThroughDisk
    [pscustomobject]@{
      ControllerType = [string]$d.BusType; ControllerNumber = $d.Bus; ControllerLocation = $d.Lun
      DiskNumber = $(if ($pass) { [int]$d.PassThroughDisk.DeviceID } else { $null })
      Path = $(if ($vhd) { $vhd.Location } else { $null })
      Size = $(if ($vhd) { $vhd.MaximumSize } else { $null })
      VhdFormat = $(if ($vhd) { [string]$vhd.VHDFormatType } else { $null })
      VhdType = $(if ($vhd) { [string]$vhd.VHDType } else { $null })
      ParentPath = $(if ($vhd -and $vhd.ParentDisk) { $vhd.ParentDisk.Location } else { $null })
    }
  })
  $nics = @(foreach ($n in @(Get-SCVirtualNetworkAdapter -VM $vm)) {
    [pscustomobject]@{
      Id = [string]$n.ID; Name = $n.Name; MacAddress = $n.MACAddress; SwitchName = $n.VirtualNetwork
      VlanId = $n.VLanID; IsLegacy = [string]$n.VirtualNetworkAdapterType -eq 'Emulated'
      IPAddresses = @($n.IPv4Addresses) + @($n.IPv6Addresses)
    }
  })
  [pscustomobject]@{
    Id = [string]$vm.ID; Name = $vm.Name; Generation = $vm.Generation; State = [string]$vm.Status
    ProcessorCount = $vm.CPUCount; MemoryStartup = [int64]$vm.Memory * 1MB; HostName = $vm.VMHost.Name
    SecureBoot = $vm.SecureBootEnabled; HardDrives = $drives; NetworkAdapters = $nics; IntegrationServices = @()
  }
}
"""

ABOUT = CONNECT + r"""
ConvertTo-Json -Compress -InputObject @([pscustomobject]@{
  Name = $vmm.Name; ProductVersion = [string]$vmm.ProductVersion
  Hosts = @(foreach ($h in @(Get-SCVMHost -VMMServer $vmm)) { $h.Name })
})
"""

LIST_VMS = DESCRIBE_VM + r"""
$page = @(Get-SCVirtualMachine -VMMServer $vmm |
  Where-Object { $filter -eq '' -or $_.Name -like ('*' + [WildcardPattern]::Escape($filter) + '*') } |
  Sort-Object -Property Name, ID | Select-Object -Skip $skip -First $first)
ConvertTo-Json -Depth 6 -Compress -InputObject @(foreach ($vm in $page) { ConvertTo-CoriolisVm $vm })
"""

GET_VM = DESCRIBE_VM + r"""
$found = @(Get-SCVirtualMachine -VMMServer $vmm |
  Where-Object { [string]$_.ID -eq $instance -or $_.Name -eq $instance })
ConvertTo-Json -Depth 6 -Compress -InputObject @(foreach ($vm in $found) { ConvertTo-CoriolisVm $vm })
"""

NETWORKS = CONNECT + r"""
ConvertTo-Json -Compress -InputObject @(foreach ($n in @(Get-SCVMNetwork -VMMServer $vmm)) {
  [pscustomobject]@{ Id = [string]$n.ID; Name = $n.Name; LogicalNetwork = [string]$n.LogicalNetwork }
})
"""

# While the checkpoint exists each disk's VirtualHardDisk is its AVHDX; its ParentDisk is the frozen file.
CHECKPOINT_DRIVES = CONNECT + r"""
function Get-CoriolisCheckpointDrives($vm) {
  $cp = @(Get-SCVMCheckpoint -VM $vm | Where-Object { $_.Name -eq $name })
  if ($cp.Count -eq 0) { return @() }
  @(foreach ($d in @(Get-SCVirtualDiskDrive -VM $vm)) {
    if ($d.VirtualHardDisk -and $d.VirtualHardDisk.ParentDisk) {
      [pscustomobject]@{ ControllerType = [string]$d.BusType; ControllerNumber = $d.Bus; ControllerLocation = $d.Lun
                         Path = $d.VirtualHardDisk.ParentDisk.Location }
    }
  })
}
$vm = Get-SCVirtualMachine -VMMServer $vmm -ID $vmId
"""

CREATE_CHECKPOINT = CHECKPOINT_DRIVES + r"""
$null = New-SCVMCheckpoint -VM $vm -Name $name -Description 'Coriolis migration'
$vm = Get-SCVirtualMachine -VMMServer $vmm -ID $vmId
ConvertTo-Json -Compress -InputObject @(Get-CoriolisCheckpointDrives $vm)
"""

GET_CHECKPOINT = CHECKPOINT_DRIVES + r"""
ConvertTo-Json -Compress -InputObject @(Get-CoriolisCheckpointDrives $vm)
"""

# Remove-SCVMCheckpoint returns when the VMM job (the merge included) has finished.
REMOVE_CHECKPOINT = CONNECT + r"""
$removed = 0
$vm = @(Get-SCVirtualMachine -VMMServer $vmm | Where-Object { [string]$_.ID -eq $vmId })
if ($vm.Count -gt 0) {
  foreach ($c in @(Get-SCVMCheckpoint -VM $vm[0] | Where-Object { $_.Name -eq $name })) {
    $null = Remove-SCVMCheckpoint -VMCheckpoint $c
    $removed += 1
  }
}
ConvertTo-Json -Compress -InputObject @([pscustomobject]@{ Removed = $removed })
"""

POWER_OFF = CONNECT + r"""
$vm = Get-SCVirtualMachine -VMMServer $vmm -ID $vmId
if ([string]$vm.Status -ne 'PowerOff') { $null = Stop-SCVirtualMachine -VM $vm -Shutdown }
ConvertTo-Json -Compress -InputObject @([pscustomobject]@{
  State = [string](Get-SCVirtualMachine -VMMServer $vmm -ID $vmId).Status })
"""


def about(server: str) -> str:
    return script("scvmm-about", ABOUT, server=server)


def list_vms(server: str, name_filter: str, skip: int, first: int) -> str:
    return script("scvmm-list-vms", LIST_VMS, server=server, filter=name_filter, skip=skip, first=first)


def get_vm(server: str, instance: str) -> str:
    return script("scvmm-get-vm", GET_VM, server=server, instance=instance)


def networks(server: str) -> str:
    return script("scvmm-networks", NETWORKS, server=server)


def create_checkpoint(server: str, vm_id: str, name: str) -> str:
    return script("scvmm-create-checkpoint", CREATE_CHECKPOINT, server=server, vmId=vm_id, name=name)


def get_checkpoint(server: str, vm_id: str, name: str) -> str:
    return script("scvmm-get-checkpoint", GET_CHECKPOINT, server=server, vmId=vm_id, name=name)


def remove_checkpoint(server: str, vm_id: str, name: str) -> str:
    return script("scvmm-remove-checkpoint", REMOVE_CHECKPOINT, server=server, vmId=vm_id, name=name)


def power_off(server: str, vm_id: str) -> str:
    return script("scvmm-power-off", POWER_OFF, server=server, vmId=vm_id)
