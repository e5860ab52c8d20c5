# Build the Windows download: dist\FlowerStudio-windows-x86_64-setup.exe, an installer (Inno Setup 6) that
# adds Flower Studio to the Start menu. The folder it installs holds FlowerStudio.exe (the window) and
# flowerstudio-cli.exe (the command line); CPU PyTorch, no Python needed. Run from any folder:
#
#   powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1 [-Python py]
#
# Needs Python 3.11 (64-bit) and Inno Setup 6 (winget install JRSoftware.InnoSetup; CI runners have it).
# Without Inno Setup it writes dist\FlowerStudio-windows-x86_64.zip instead.
param([string]$Python = "python", [string]$TorchIndex = "https://download.pytorch.org/whl/cpu")
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
function Run { & $args[0] @($args | Select-Object -Skip 1); if ($LASTEXITCODE) { throw "failed ($LASTEXITCODE): $args" } }

$py = "build\bundle\venv\Scripts\python.exe"
if (-not (Test-Path $py)) { Run $Python -m venv build\bundle\venv }
Run $py -m pip install --quiet --upgrade pip
Run $py -m pip install --quiet --index-url $TorchIndex torch torchvision
Run $py -m pip install --quiet ".[bundle]"
Run $py packaging\check_build_venv.py
Run $py -m PyInstaller --noconfirm --clean --log-level WARN --distpath build\bundle\dist `
    --workpath build\bundle\work packaging\flowerstudio.spec

New-Item -ItemType Directory -Force dist | Out-Null
$version = & $py -c "import sys; sys.path.insert(0, 'packaging'); import bundle_data; print(bundle_data.version())"
$iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe"
if (Test-Path $iscc) {
    Run $iscc /Q "/DAppVersion=$version" packaging\windows\flowerstudio.iss
    Get-Item dist\FlowerStudio-windows-x86_64-setup.exe
} else {
    Write-Warning "Inno Setup 6 not found: writing a zip instead of an installer"
    Compress-Archive -Force build\bundle\dist\FlowerStudio dist\FlowerStudio-windows-x86_64.zip
}
