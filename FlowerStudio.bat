@echo off
rem Flower Studio launcher (Windows).
rem First run: creates .venv next to this script and installs the app into it.
rem Later runs: just start the app. Extra arguments go to the app.
setlocal
set "HERE=%~dp0"
set "VENV=%HERE%.venv"
set "PY=%VENV%\Scripts\python.exe"
set "PYW=%VENV%\Scripts\pythonw.exe"

if exist "%PY%" (
    "%PY%" -c "import flowerstudio.gui.app" >nul 2>&1 && goto start
)

echo Flower Studio: first start - setting up (this downloads the libraries once and takes a few minutes)...
if not exist "%PY%" (
    where py >nul 2>&1 && (py -3 -m venv "%VENV%") || (python -m venv "%VENV%")
)
if not exist "%PY%" (
    echo Python 3.10 or newer is needed. Install it from https://www.python.org/ and run this again.
    pause
    exit /b 1
)
"%PY%" -m pip install --upgrade pip
"%PY%" -m pip install -e "%HERE%."
if errorlevel 1 (
    echo Installing Flower Studio failed; see the messages above.
    pause
    exit /b 1
)

:start
cd /d "%HERE%"
if exist "%PYW%" (
    start "" "%PYW%" "%HERE%main.py" %*
) else (
    "%PY%" "%HERE%main.py" %*
)
endlocal
