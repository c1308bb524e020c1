@echo off
msiexec.exe /i "C:\Program Files\Coriolis\Firstboot\CloudbaseInitSetup.msi" /qn /norestart /l*v "C:\Program Files\Coriolis\Firstboot\CloudbaseInitSetup.msi.log" RUN_SERVICE_AS_LOCAL_SYSTEM=1
if %errorlevel%==3010 goto installed
if not %errorlevel%==0 exit /b %errorlevel%
:installed
copy /y "C:\Program Files\Coriolis\Firstboot\cloudbase-init.conf" "C:\Program Files\Cloudbase Solutions\Cloudbase-Init\conf\cloudbase-init.conf"
exit /b %errorlevel%
