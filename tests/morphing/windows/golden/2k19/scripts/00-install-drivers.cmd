@echo off
pnputil.exe /add-driver "%SystemRoot%\Drivers\VirtIO\*.inf" /install
rem 259: nothing newer to install, 3010: a reboot completes it
if %errorlevel%==259 exit /b 0
if %errorlevel%==3010 exit /b 0
exit /b %errorlevel%
