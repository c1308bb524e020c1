@echo off
echo uninstalling VMware Tools
msiexec.exe /x {F32C4E7B-2BF8-4788-8408-824C6896E1BB} /qn /norestart
if %errorlevel%==3010 exit /b 0
exit /b %errorlevel%
