@echo off
msiexec.exe /i "C:\Program Files\Coriolis\Firstboot\qemu-ga-x86_64.msi" /qn /norestart /l*v "C:\Program Files\Coriolis\Firstboot\qemu-ga-x86_64.msi.log"
if %errorlevel%==3010 exit /b 0
exit /b %errorlevel%
