"""The first-boot service a converted Windows guest runs once: scripts, their log, the service entry.

Only Windows can install PnP drivers properly, run MSI uninstallers or bind addresses to a new
adapter, so those steps are written as numbered scripts under ``C:\\Program Files\\Coriolis\\
Firstboot\\scripts`` and run in name order at the first start by a small service: the operator's
srvany-style wrapper (``rhsrvany.exe`` or ``pvvxsvc.exe``, which run the ``CommandLine`` of their
``Parameters`` key as a service). Every script's output and exit code go to ``log.txt`` beside
them; a script that succeeded moves to ``done\\``, one that failed to ``failed\\``; when all ran,
the service disables itself and writes ``complete``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from morphing.registry import RegValue

SERVICE = "CoriolisFirstboot"
HOME_GUEST = "/Program Files/Coriolis/Firstboot"
HOME_WIN = r"C:\Program Files\Coriolis\Firstboot"
LOG_WIN = HOME_WIN + r"\log.txt"


def crlf(text: str) -> str:
    """Windows line endings (cmd.exe needs them in batch files)."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


@dataclass
class FirstBoot:
    """The scripts a conversion queues for the first boot, in the order they will run."""

    scripts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, body: str) -> str:
        """Queue a script (``.cmd`` or ``.ps1`` by ``name``); returns its file name (numbered)."""
        file_name = f"{len(self.scripts) * 10:02d}-{name}"
        self.scripts.append((file_name, crlf(body)))
        return file_name


RUNNER = r"""@echo off
setlocal EnableExtensions EnableDelayedExpansion
set "home={home}"
set "log=%home%\log.txt"
call :main >> "%log%" 2>&1
exit /b 0

:main
echo [%DATE% %TIME%] Coriolis first boot: starting
if not exist "%home%\done" mkdir "%home%\done"
if not exist "%home%\failed" mkdir "%home%\failed"
for /f "delims=" %%f in ('dir /b /a-d /on "%home%\scripts" 2^>nul') do call :run "%%f"
echo [%DATE% %TIME%] Coriolis first boot: finished
type nul > "%home%\complete"
sc.exe config {service} start= disabled
exit /b 0

:run
set "script=%home%\scripts\%~1"
echo [%DATE% %TIME%] running %~1
if /i "%~x1"==".ps1" (
  powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "%script%"
) else (
  call "%script%"
)
set "code=!errorlevel!"
echo [%DATE% %TIME%] %~1 exited with !code!
if "!code!"=="0" (move /y "%script%" "%home%\done\" >nul) else (move /y "%script%" "%home%\failed\" >nul)
exit /b 0
"""


def runner_script() -> str:
    """The batch file the service runs: each queued script once, logged."""
    return crlf(RUNNER.replace("{home}", HOME_WIN).replace("{service}", SERVICE))


def service_edits(control_set: str, wrapper: str) -> list[tuple[list[str], dict[str, RegValue]]]:
    """SYSTEM hive edits that register the first-boot service (own process, automatic start)."""
    return [
        (
            [control_set, "Services", SERVICE],
            {
                "Type": RegValue.dword(0x10),
                "Start": RegValue.dword(2),
                "ErrorControl": RegValue.dword(1),
                "ImagePath": RegValue.expand_sz(f'"{HOME_WIN}\\{wrapper}" -s {SERVICE}'),
                "DisplayName": RegValue.sz("Coriolis first boot"),
                "Description": RegValue.sz("Finishes a migration: drivers, tools removal, network (runs once)"),
                "ObjectName": RegValue.sz("LocalSystem"),
            },
        ),
        (
            [control_set, "Services", SERVICE, "Parameters"],
            {
                "CommandLine": RegValue.sz(f'cmd.exe /c "{HOME_WIN}\\firstboot.cmd"'),
                "PWD": RegValue.sz(HOME_WIN),
            },
        ),
    ]


def install_drivers_script(major: int) -> str:
    """Install every staged driver package with pnputil (its 6.3 syntax on Server 2012 R2)."""
    infs = r"%SystemRoot%\Drivers\VirtIO\*.inf"
    if major < 10:
        return f'@echo off\r\npnputil.exe -i -a "{infs}"\r\nexit /b 0\r\n'
    return (
        "@echo off\r\n"
        f'pnputil.exe /add-driver "{infs}" /install\r\n'
        "rem 259: nothing newer to install, 3010: a reboot completes it\r\n"
        "if %errorlevel%==259 exit /b 0\r\n"
        "if %errorlevel%==3010 exit /b 0\r\n"
        "exit /b %errorlevel%\r\n"
    )


def uninstall_script(name: str, uninstall: str) -> str:
    """Run a tool's recorded uninstall command silently (MSI products through msiexec /x)."""
    command = uninstall.strip()
    lower = command.lower()
    if lower.startswith("msiexec") and "{" in command:
        product = command[command.index("{") : command.index("}") + 1]
        command = f"msiexec.exe /x {product} /qn /norestart"
    return (
        "@echo off\r\n"
        f"echo uninstalling {name}\r\n"
        f"{command}\r\n"
        "if %errorlevel%==3010 exit /b 0\r\n"
        "exit /b %errorlevel%\r\n"
    )


def msi_install_script(msi_win_path: str, properties: str = "", then: str = "") -> str:
    """Install an MSI silently, its verbose log next to it; ``then`` runs only once it succeeded."""
    command = f'msiexec.exe /i "{msi_win_path}" /qn /norestart /l*v "{msi_win_path}.log"'
    lines = ["@echo off", f"{command} {properties}".rstrip()]
    if then:
        # 3010 is success with a reboot pending; anything else stops before the follow-up
        lines += ["if %errorlevel%==3010 goto installed", "if not %errorlevel%==0 exit /b %errorlevel%", ":installed",
                  then, "exit /b %errorlevel%"]
    else:
        lines += ["if %errorlevel%==3010 exit /b 0", "exit /b %errorlevel%"]
    return "\r\n".join(lines) + "\r\n"


def _ps(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def static_ip_script(assignments: list[tuple[str, list[tuple[str, int]], list[str], list[str]]]) -> str:
    """PowerShell that binds each static setting to the adapter with the given MAC.

    Args:
        assignments: (MAC "aa:bb:..", [(address, prefix length)], gateways, DNS servers) per adapter.
    """
    lines = [
        "$ErrorActionPreference = 'Stop'",
        "function Set-CoriolisStatic($mac, $addresses, $gateways, $dns) {",
        "  $wanted = $mac.Replace(':', '-').ToUpper()",
        "  $adapter = $null",
        "  for ($try = 0; $try -lt 30 -and -not $adapter; $try++) {",
        "    $adapter = Get-NetAdapter | Where-Object { $_.MacAddress -eq $wanted } | Select-Object -First 1",
        "    if (-not $adapter) { Start-Sleep -Seconds 2 }",
        "  }",
        '  if (-not $adapter) { throw "no network adapter with MAC $mac" }',
        '  Write-Output "configuring $($adapter.Name) ($mac)"',
        "  Set-NetIPInterface -InterfaceIndex $adapter.ifIndex -Dhcp Disabled",
        "  Get-NetIPAddress -InterfaceIndex $adapter.ifIndex -AddressFamily IPv4 -ErrorAction SilentlyContinue |"
        " Remove-NetIPAddress -Confirm:$false",
        "  $first = $true",
        "  foreach ($a in $addresses) {",
        "    if ($first -and $gateways.Count -gt 0) {",
        "      New-NetIPAddress -InterfaceIndex $adapter.ifIndex -IPAddress $a[0] -PrefixLength $a[1]"
        " -DefaultGateway $gateways[0] | Out-Null",
        "    } else {",
        "      New-NetIPAddress -InterfaceIndex $adapter.ifIndex -IPAddress $a[0] -PrefixLength $a[1] | Out-Null",
        "    }",
        "    $first = $false",
        "  }",
        "  if ($dns.Count -gt 0) { Set-DnsClientServerAddress -InterfaceIndex $adapter.ifIndex -ServerAddresses $dns }",
        "}",
    ]
    for mac, addresses, gateways, dns in assignments:
        addr = ", ".join(f"@({_ps(a)}, {p})" for a, p in addresses)
        gws = ", ".join(_ps(g) for g in gateways)
        servers = ", ".join(_ps(d) for d in dns)
        lines.append(f"Set-CoriolisStatic {_ps(mac)} @({addr}) @({gws}) @({servers})")
    return "\r\n".join(lines) + "\r\n"


def prefix_length(mask: str) -> int:
    """255.255.255.0 -> 24 (an invalid mask raises ValueError)."""
    return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen


# cloud-init datasource names (TargetProfile) -> cloudbase-init metadata services
METADATA_SERVICES = {
    "OpenStack": "cloudbaseinit.metadata.services.httpservice.HttpService",
    "ConfigDrive": "cloudbaseinit.metadata.services.configdrive.ConfigDriveService",
    "Ec2": "cloudbaseinit.metadata.services.ec2service.EC2Service",
    "Azure": "cloudbaseinit.metadata.services.azureservice.AzureService",
    "GCE": "cloudbaseinit.metadata.services.gceservice.GCEService",
    "NoCloud": "cloudbaseinit.metadata.services.nocloudservice.NoCloudConfigDriveService",
}
CLOUDBASE_CONF_WIN = r"C:\Program Files\Cloudbase Solutions\Cloudbase-Init\conf"


def cloudbase_init_conf(datasources: list[str]) -> str:
    """cloudbase-init.conf naming the destination's metadata services, in its order."""
    services = [METADATA_SERVICES[d] for d in datasources if d in METADATA_SERVICES]
    return crlf(
        "[DEFAULT]\n"
        "username=Admin\n"
        "groups=Administrators\n"
        "inject_user_password=true\n"
        "first_logon_behaviour=no\n"
        "config_drive_raw_hhd=true\n"
        "config_drive_cdrom=true\n"
        "config_drive_vfat=true\n"
        f"metadata_services={','.join(services)}\n"
        "plugins=cloudbaseinit.plugins.common.mtu.MTUPlugin,"
        "cloudbaseinit.plugins.common.sethostname.SetHostNamePlugin,"
        "cloudbaseinit.plugins.windows.createuser.CreateUserPlugin,"
        "cloudbaseinit.plugins.common.networkconfig.NetworkConfigPlugin,"
        "cloudbaseinit.plugins.common.sshpublickeys.SetUserSSHPublicKeysPlugin,"
        "cloudbaseinit.plugins.windows.extendvolumes.ExtendVolumesPlugin,"
        "cloudbaseinit.plugins.common.userdata.UserDataPlugin\n"
        "logdir=C:\\Program Files\\Cloudbase Solutions\\Cloudbase-Init\\log\\\n"
        "logfile=cloudbase-init.log\n"
    )
