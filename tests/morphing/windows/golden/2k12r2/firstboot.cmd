@echo off
setlocal EnableExtensions EnableDelayedExpansion
set "home=C:\Program Files\Coriolis\Firstboot"
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
sc.exe config CoriolisFirstboot start= disabled
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
