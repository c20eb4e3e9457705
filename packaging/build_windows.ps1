<#
.SYNOPSIS
Build Certline for Windows: the frozen one-folder bundle, a portable .zip of it and the
NSIS installer.

.DESCRIPTION
    powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1 [-Python python.exe]
        [-SkipInstall] [-SkipSelftest] [-SkipInstaller] [-Makensis C:\path\makensis.exe]

Output (packaging\out\, ignored by git):
    dist\certline\                             certline.exe (console), certline-gui.exe, _internal\, licenses\
    certline-VERSION-windows-x64.zip           the bundle, portable (no installer)
    certline-VERSION-windows-x64-setup.exe     the installer (packaging\windows\certline.nsi)

Steps: pip install -e .[packaging] (unless -SkipInstall), icons, PyInstaller with
packaging\certline.spec, the licence texts (packaging\licenses.py; stops when one is missing),
`certline.exe --version [--verbose]` and `certline.exe selftest` (offscreen Qt,
unless -SkipSelftest), the .zip, then makensis (NSIS 3: on PATH, in Program Files (x86)\NSIS,
or -Makensis). CI: .github/workflows/windows-installer.yml.
#>
[CmdletBinding()]
param(
    [string]$Python = "",
    [switch]$SkipInstall,
    [switch]$SkipSelftest,
    [switch]$SkipInstaller,
    [string]$Makensis = ""
)

$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$Root = (Resolve-Path (Join-Path $PSScriptRoot "..")).Path
Set-Location $Root
$Out = if ($env:CERTLINE_PACKAGING_OUT) { $env:CERTLINE_PACKAGING_OUT } else { Join-Path $Root "packaging\out" }
New-Item -ItemType Directory -Force -Path $Out | Out-Null

function Say([string]$Message) { Write-Host "build_windows: $Message" }
function Invoke-Checked {
    # Run a native program; stop when it fails (native exit codes do not raise in PowerShell).
    # A simple function on purpose: $args keeps "-m", "-e", "--clean" as plain arguments.
    $exe, $rest = $args
    & $exe @rest
    if ($LASTEXITCODE -ne 0) { throw "$exe $($rest -join ' ') failed with exit code $LASTEXITCODE" }
}

if (-not $Python) {
    $venvPython = Join-Path $Root ".venv\Scripts\python.exe"
    $Python = if (Test-Path $venvPython) { $venvPython } else { "python" }
}
$Started = Get-Date
$Version = (& $Python -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])").Trim()
if ($LASTEXITCODE -ne 0 -or -not $Version) { throw "could not read the version from pyproject.toml with $Python" }
Say "Certline $Version with $(& $Python -c 'import sys; print(sys.version.split()[0])') ($Python)"

# --- 1. the bundle ---------------------------------------------------------------------------
if (-not $SkipInstall) {
    Say "pip install -e .[packaging]"
    Invoke-Checked $Python -m pip install --disable-pip-version-check -q -e ".[packaging]"
}
Say "icons"
Invoke-Checked $Python packaging\make_icons.py (Join-Path $Out "icons")
Say "PyInstaller (one folder, certline.exe + certline-gui.exe)"
$env:CERTLINE_PACKAGING_OUT = $Out
Invoke-Checked $Python -m PyInstaller --noconfirm --clean --log-level WARN `
    --distpath (Join-Path $Out "dist") --workpath (Join-Path $Out "build") packaging\certline.spec

$Bundle = Join-Path $Out "dist\certline"
$Cli = Join-Path $Bundle "certline.exe"
foreach ($exe in @($Cli, (Join-Path $Bundle "certline-gui.exe"))) {
    if (-not (Test-Path $exe)) { throw "PyInstaller did not produce $exe" }
}

# Licence texts of every bundled component into the bundle (licenses\); stops when one is missing
Say "licence texts"
$env:PYTHONPATH = $Root
try { Invoke-Checked $Python packaging\licenses.py (Join-Path $Bundle "licenses") } finally { Remove-Item Env:PYTHONPATH }

# --- 2. smoke test ---------------------------------------------------------------------------
$got = (& $Cli --version | Out-String).Trim()
if ($LASTEXITCODE -ne 0 -or $got -ne "certline $Version") { throw "certline.exe --version said '$got'" }
Say "ok: $got"
# the versions of the bundled Python, OpenSSL, SQLite, zlib, expat and Qt, for the build log
Invoke-Checked $Cli --version --verbose
if (-not $SkipSelftest) {
    $env:QT_QPA_PLATFORM = "offscreen"
    try { Invoke-Checked $Cli selftest } finally { Remove-Item Env:QT_QPA_PLATFORM }
}

# --- 3. portable .zip ------------------------------------------------------------------------
$Zip = Join-Path $Out "certline-$Version-windows-x64.zip"
if (Test-Path $Zip) { Remove-Item $Zip }
Compress-Archive -Path $Bundle -DestinationPath $Zip -CompressionLevel Optimal
Say "zip: $Zip"

# --- 4. installer ----------------------------------------------------------------------------
$Setup = Join-Path $Out "certline-$Version-windows-x64-setup.exe"
if (-not $SkipInstaller) {
    if (-not $Makensis) {
        $onPath = Get-Command makensis.exe -ErrorAction SilentlyContinue
        $Makensis = if ($onPath) { $onPath.Source } else { Join-Path ${env:ProgramFiles(x86)} "NSIS\makensis.exe" }
    }
    if (-not (Test-Path $Makensis)) { throw "makensis not found (install NSIS 3: choco install nsis), or pass -Makensis" }
    $m = [regex]::Match($Version, '^(\d+)(?:\.(\d+))?(?:\.(\d+))?')
    $numeric = (1..3 | ForEach-Object { if ($m.Groups[$_].Success) { $m.Groups[$_].Value } else { "0" } }) -join "."
    Say "makensis ($Makensis)"
    Invoke-Checked $Makensis /V2 /WX "/DVERSION=$Version" "/DVERSION_NUMERIC=$numeric.0" "/DBUNDLE=$Bundle" `
        "/DICON=$(Join-Path $Out 'icons\certline.ico')" "/DOUTFILE=$Setup" packaging\windows\certline.nsi
}

# --- sizes -----------------------------------------------------------------------------------
$bundleMB = [math]::Round(((Get-ChildItem $Bundle -Recurse -File | Measure-Object Length -Sum).Sum / 1MB), 1)
$zipMB = [math]::Round((Get-Item $Zip).Length / 1MB, 1)
$line = "done in $([int]((Get-Date) - $Started).TotalSeconds)s: bundle $bundleMB MB, zip $zipMB MB"
if (Test-Path $Setup) { $line += ", installer $([math]::Round((Get-Item $Setup).Length / 1MB, 1)) MB" }
Say $line
