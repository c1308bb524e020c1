$ErrorActionPreference = 'Stop'
function Set-CoriolisStatic($mac, $addresses, $gateways, $dns) {
  $wanted = $mac.Replace(':', '-').ToUpper()
  $adapter = $null
  for ($try = 0; $try -lt 30 -and -not $adapter; $try++) {
    $adapter = Get-NetAdapter | Where-Object { $_.MacAddress -eq $wanted } | Select-Object -First 1
    if (-not $adapter) { Start-Sleep -Seconds 2 }
  }
  if (-not $adapter) { throw "no network adapter with MAC $mac" }
  Write-Output "configuring $($adapter.Name) ($mac)"
  Set-NetIPInterface -InterfaceIndex $adapter.ifIndex -Dhcp Disabled
  Get-NetIPAddress -InterfaceIndex $adapter.ifIndex -AddressFamily IPv4 -ErrorAction SilentlyContinue | Remove-NetIPAddress -Confirm:$false
  $first = $true
  foreach ($a in $addresses) {
    if ($first -and $gateways.Count -gt 0) {
      New-NetIPAddress -InterfaceIndex $adapter.ifIndex -IPAddress $a[0] -PrefixLength $a[1] -DefaultGateway $gateways[0] | Out-Null
    } else {
      New-NetIPAddress -InterfaceIndex $adapter.ifIndex -IPAddress $a[0] -PrefixLength $a[1] | Out-Null
    }
    $first = $false
  }
  if ($dns.Count -gt 0) { Set-DnsClientServerAddress -InterfaceIndex $adapter.ifIndex -ServerAddresses $dns }
}
Set-CoriolisStatic '00:50:56:aa:bb:cc' @(@('192.168.78.20', 24)) @('192.168.78.1') @('192.168.78.1', '9.9.9.9')
