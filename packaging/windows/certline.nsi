; Certline installer for Windows (NSIS 3, Unicode, Modern UI 2, MultiUser).
;
; Installs the PyInstaller bundle (packaging/out/dist/certline: certline.exe, certline-gui.exe,
; _internal\) either for all users (Program Files, needs administrator rights) or for the
; current user only (%LOCALAPPDATA%\Programs), with a Start menu entry, a "self-test"
; shortcut and an uninstaller registered in "Apps & features" / "Add or remove programs".
;
; Built by packaging/build_windows.ps1; checked on Linux against a placeholder bundle by
; packaging/check_nsis.sh. By hand:
;
;   makensis /DVERSION=0.1.0 /DBUNDLE=..\out\dist\certline /DICON=..\out\icons\certline.ico ^
;            /DOUTFILE=..\out\certline-0.1.0-windows-x64-setup.exe packaging\windows\certline.nsi
;
; Silent install: setup.exe /S [/AllUsers | /CurrentUser] [/AllowDowngrade] [/D=C:\path]
;   (/D must come last). Exit codes (docs/packaging.md, "Windows build checklist"):
;   0 installed; 1 cancelled; 2 aborted (for example a file could not be written: the previous
;   installation is left as it was); 3 Certline is running; 4 Certline is already installed in
;   the other mode (per-user vs. all users); 5 a newer version is installed (downgrade refused).
; Silent uninstall: "<install dir>\uninstall.exe" /S   (exit code 3 while Certline is running)
; The user's profiles, journal and logs (%LOCALAPPDATA%\certline) are never removed.
;
; Safety: nothing is written before every check passed; the new files are unpacked next to the
; old ones (*.new) and swapped in only when all of them were written, so a failure or a
; Cancel never leaves a half-replaced program. The finish page starts Certline through
; Explorer, i.e. as the logged-in user without the installer's elevation.

Unicode true
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "define VERSION, e.g. makensis /DVERSION=0.1.0"
!endif
!ifndef BUNDLE
  !define BUNDLE "..\out\dist\certline"
!endif
!ifndef ICON
  !define ICON "..\out\icons\certline.ico"
!endif
!ifndef OUTFILE
  !define OUTFILE "..\out\certline-${VERSION}-windows-x64-setup.exe"
!endif
; VIProductVersion needs four numbers: the build script passes them (0.1.0 -> 0.1.0.0)
!ifndef VERSION_NUMERIC
  !define VERSION_NUMERIC "0.0.0.0"
!endif

!define APPNAME "Certline"
!define PUBLISHER "Certline engineering"
!define REGKEY "Software\Certline"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Certline"
!define EXIT_RUNNING 3
!define EXIT_OTHER_MODE 4
!define EXIT_DOWNGRADE 5
!ifndef LICENSE_FILE
  !define LICENSE_FILE "license.txt"
!endif

Name "${APPNAME} ${VERSION}"
OutFile "${OUTFILE}"
BrandingText "${APPNAME} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION_NUMERIC}"
VIAddVersionKey /LANG=0 "ProductName" "${APPNAME}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileDescription" "${APPNAME} installer"
VIAddVersionKey /LANG=0 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=0 "LegalCopyright" "Apache License 2.0"

; --- per-user or per-machine ---------------------------------------------------------------
; "Highest": an administrator is asked (UAC) and may choose either mode on the install-mode
; page; anybody else installs for themselves without a prompt.
!define MULTIUSER_EXECUTIONLEVEL Highest
!define MULTIUSER_MUI
!define MULTIUSER_INSTALLMODE_COMMANDLINE
!define MULTIUSER_USE_PROGRAMFILES64
!define MULTIUSER_INSTALLMODE_INSTDIR "${APPNAME}"
; where a previous installation's mode and folder are remembered (HKLM or HKCU)
!define MULTIUSER_INSTALLMODE_DEFAULT_REGISTRY_KEY "${REGKEY}"
!define MULTIUSER_INSTALLMODE_DEFAULT_REGISTRY_VALUENAME "InstallMode"
!define MULTIUSER_INSTALLMODE_INSTDIR_REGISTRY_KEY "${REGKEY}"
!define MULTIUSER_INSTALLMODE_INSTDIR_REGISTRY_VALUENAME "InstallDir"

!include MultiUser.nsh
!include MUI2.nsh
!include FileFunc.nsh
!include LogicLib.nsh
!include x64.nsh
!include WordFunc.nsh

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
; Run through a function: MUI_FINISHPAGE_RUN would start Certline elevated (as the installer)
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "Start Certline"
!define MUI_FINISHPAGE_RUN_FUNCTION StartUnelevated

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_LICENSE "${LICENSE_FILE}"
!insertmacro MULTIUSER_PAGE_INSTALLMODE
!define MUI_PAGE_CUSTOMFUNCTION_PRE CheckBeforeDirectory
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "German"

Var AllowDowngrade

; --- checks before anything is written ----------------------------------------------------------
; A running Certline holds its .exe files open: Windows refuses to open a running program's
; file for writing, which is what this tests (per file in $INSTDIR, so only this installation's
; processes count).
; $0 = "" when no Certline program in $INSTDIR is running, else its path
!macro CHECK_RUNNING
  StrCpy $0 ""
  ${If} ${FileExists} "$INSTDIR\certline-gui.exe"
    ClearErrors
    FileOpen $1 "$INSTDIR\certline-gui.exe" a
    ${If} ${Errors}
      StrCpy $0 "$INSTDIR\certline-gui.exe"
    ${Else}
      FileClose $1
    ${EndIf}
  ${EndIf}
  ${If} $0 == ""
  ${AndIf} ${FileExists} "$INSTDIR\certline.exe"
    ClearErrors
    FileOpen $1 "$INSTDIR\certline.exe" a
    ${If} ${Errors}
      StrCpy $0 "$INSTDIR\certline.exe"
    ${Else}
      FileClose $1
    ${EndIf}
  ${EndIf}
!macroend

; Ask until Certline is closed (Retry) or give up (Cancel: exit code 3, nothing changed).
!macro WAIT_UNTIL_CLOSED
  ${Do}
    !insertmacro CHECK_RUNNING
    ${If} $0 == ""
      ${Break}
    ${EndIf}
    MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "Certline is running ($0).$\r$\n$\r$\nFinish or pause the batch and close Certline (every window, also a command prompt running certline), then click Retry." /SD IDCANCEL IDRETRY +3
    SetErrorLevel ${EXIT_RUNNING}
    Quit
  ${Loop}
!macroend

; The other install mode must not hold a Certline already (two copies, two Start menu entries,
; and an uninstaller that removes the wrong one), and a newer version is not replaced silently.
Function CheckInstallConflicts
  ${If} $MultiUser.InstallMode == "AllUsers"
    ReadRegStr $0 HKCU "${REGKEY}" "InstallDir"
    StrCpy $1 "for you only"
  ${Else}
    ReadRegStr $0 HKLM "${REGKEY}" "InstallDir"
    StrCpy $1 "for all users"
  ${EndIf}
  ${If} $0 != ""
    MessageBox MB_OK|MB_ICONSTOP "Certline is already installed $1, in $0.$\r$\n$\r$\nUninstall that copy first (Settings > Apps), or install in the same way again." /SD IDOK
    SetErrorLevel ${EXIT_OTHER_MODE}
    Quit
  ${EndIf}
  ReadRegStr $0 SHCTX "${REGKEY}" "Version"
  ${If} $0 != ""
  ${AndIf} $AllowDowngrade != "1"
    ${VersionCompare} "$0" "${VERSION}" $1
    ${If} $1 == 1
      MessageBox MB_OK|MB_ICONSTOP "Certline $0 is installed, which is newer than ${VERSION}.$\r$\n$\r$\nTo go back to ${VERSION}, uninstall $0 first (or run this installer with /AllowDowngrade)." /SD IDOK
      SetErrorLevel ${EXIT_DOWNGRADE}
      Quit
    ${EndIf}
  ${EndIf}
FunctionEnd

Function CheckBeforeDirectory
  Call CheckInstallConflicts
  !insertmacro WAIT_UNTIL_CLOSED
FunctionEnd

Function StartUnelevated
  ; Explorer starts programs as the logged-in desktop user, never with the installer's rights
  Exec '"$WINDIR\explorer.exe" "$INSTDIR\certline-gui.exe"'
FunctionEnd

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_OK|MB_ICONSTOP "Certline needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  !insertmacro MULTIUSER_INIT
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/AllowDowngrade" $R1
  ${IfNot} ${Errors}
    StrCpy $AllowDowngrade "1"
  ${EndIf}
FunctionEnd

Function un.onInit
  SetRegView 64
  !insertmacro MULTIUSER_UNINIT
  !insertmacro WAIT_UNTIL_CLOSED
FunctionEnd

; --- install ---------------------------------------------------------------------------------
Section "Certline" SecMain
  SectionIn RO
  ; again here: silent installs skip the pages, and the app may have been started meanwhile
  Call CheckInstallConflicts
  !insertmacro WAIT_UNTIL_CLOSED

  ; 1. unpack everything next to the installed program; a failure removes only the new files
  RMDir /r "$INSTDIR\_internal.new"
  RMDir /r "$INSTDIR\licenses.new"
  ClearErrors
  SetOutPath "$INSTDIR\_internal.new"
  File /r "${BUNDLE}\_internal\*.*"
  SetOutPath "$INSTDIR\licenses.new"
  File /r "${BUNDLE}\licenses\*.*"
  SetOutPath "$INSTDIR"
  File "/oname=certline.exe.new" "${BUNDLE}\certline.exe"
  File "/oname=certline-gui.exe.new" "${BUNDLE}\certline-gui.exe"
  ${If} ${Errors}
    Call RemoveNewFiles
    MessageBox MB_OK|MB_ICONSTOP "Certline could not be unpacked into $INSTDIR (disk full, or no permission?). The installed version, if any, was not changed." /SD IDOK
    Abort
  ${EndIf}

  ; 2. swap: the old program goes to *.old (so it can come back), the new one takes its place.
  ;    An upgrade replaces the bundle as a whole: files a previous version had must not linger
  ;    in _internal (Python would import them).
  RMDir /r "$INSTDIR\_internal.old"
  RMDir /r "$INSTDIR\licenses.old"
  Delete "$INSTDIR\certline.exe.old"
  Delete "$INSTDIR\certline-gui.exe.old"
  ClearErrors
  ${If} ${FileExists} "$INSTDIR\_internal\*.*"
    Rename "$INSTDIR\_internal" "$INSTDIR\_internal.old"
  ${EndIf}
  ${If} ${FileExists} "$INSTDIR\licenses\*.*"
    Rename "$INSTDIR\licenses" "$INSTDIR\licenses.old"
  ${EndIf}
  ${If} ${FileExists} "$INSTDIR\certline.exe"
    Rename "$INSTDIR\certline.exe" "$INSTDIR\certline.exe.old"
  ${EndIf}
  ${If} ${FileExists} "$INSTDIR\certline-gui.exe"
    Rename "$INSTDIR\certline-gui.exe" "$INSTDIR\certline-gui.exe.old"
  ${EndIf}
  ${IfNot} ${Errors}
    Rename "$INSTDIR\_internal.new" "$INSTDIR\_internal"
    Rename "$INSTDIR\licenses.new" "$INSTDIR\licenses"
    Rename "$INSTDIR\certline.exe.new" "$INSTDIR\certline.exe"
    Rename "$INSTDIR\certline-gui.exe.new" "$INSTDIR\certline-gui.exe"
  ${EndIf}
  ${If} ${Errors}
    Call RestoreOldFiles
    Call RemoveNewFiles
    MessageBox MB_OK|MB_ICONSTOP "Certline's files in $INSTDIR could not be replaced (a program still uses them?). The installed version was put back." /SD IDOK
    Abort
  ${EndIf}
  RMDir /r "$INSTDIR\_internal.old"
  RMDir /r "$INSTDIR\licenses.old"
  Delete "$INSTDIR\certline.exe.old"
  Delete "$INSTDIR\certline-gui.exe.old"

  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; Start menu (all users' or this user's, following the install mode)
  CreateDirectory "$SMPROGRAMS\${APPNAME}"
  CreateShortcut "$SMPROGRAMS\${APPNAME}\${APPNAME}.lnk" "$INSTDIR\certline-gui.exe" "" \
      "$INSTDIR\certline-gui.exe" 0 SW_SHOWNORMAL "" "Certline provisioning station"
  CreateShortcut "$SMPROGRAMS\${APPNAME}\${APPNAME} self-test.lnk" "$SYSDIR\cmd.exe" \
      '/k ""$INSTDIR\certline.exe" selftest"' "$INSTDIR\certline.exe" 0 SW_SHOWNORMAL "" \
      "Check this Certline installation"

  ; remembered for upgrades and for the uninstaller (MultiUser reads these back)
  WriteRegStr SHCTX "${REGKEY}" "InstallMode" "$MultiUser.InstallMode"
  WriteRegStr SHCTX "${REGKEY}" "InstallDir" "$INSTDIR"
  WriteRegStr SHCTX "${REGKEY}" "Version" "${VERSION}"

  ; Apps & features / Add or remove programs
  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayName" "${APPNAME}"
  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr SHCTX "${UNINSTKEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\certline-gui.exe,0"
  WriteRegStr SHCTX "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr SHCTX "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe" /$MultiUser.InstallMode'
  WriteRegStr SHCTX "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /$MultiUser.InstallMode /S'
  WriteRegDWORD SHCTX "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD SHCTX "${UNINSTKEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD SHCTX "${UNINSTKEY}" "EstimatedSize" "$0"
SectionEnd

Function RemoveNewFiles
  RMDir /r "$INSTDIR\_internal.new"
  RMDir /r "$INSTDIR\licenses.new"
  Delete "$INSTDIR\certline.exe.new"
  Delete "$INSTDIR\certline-gui.exe.new"
  RMDir "$INSTDIR"  ; only if empty: a first install that failed leaves nothing behind
FunctionEnd

Function RestoreOldFiles
  ; whatever of the old program was moved aside goes back (Rename fails harmlessly when absent)
  ${If} ${FileExists} "$INSTDIR\_internal.old\*.*"
    RMDir /r "$INSTDIR\_internal"
    Rename "$INSTDIR\_internal.old" "$INSTDIR\_internal"
  ${EndIf}
  ${If} ${FileExists} "$INSTDIR\licenses.old\*.*"
    RMDir /r "$INSTDIR\licenses"
    Rename "$INSTDIR\licenses.old" "$INSTDIR\licenses"
  ${EndIf}
  ${If} ${FileExists} "$INSTDIR\certline.exe.old"
    Delete "$INSTDIR\certline.exe"
    Rename "$INSTDIR\certline.exe.old" "$INSTDIR\certline.exe"
  ${EndIf}
  ${If} ${FileExists} "$INSTDIR\certline-gui.exe.old"
    Delete "$INSTDIR\certline-gui.exe"
    Rename "$INSTDIR\certline-gui.exe.old" "$INSTDIR\certline-gui.exe"
  ${EndIf}
FunctionEnd

; --- uninstall -------------------------------------------------------------------------------
Section "Uninstall"
  Delete "$SMPROGRAMS\${APPNAME}\${APPNAME}.lnk"
  Delete "$SMPROGRAMS\${APPNAME}\${APPNAME} self-test.lnk"
  RMDir "$SMPROGRAMS\${APPNAME}"

  ; only what the installer put there: never a recursive delete of $INSTDIR itself,
  ; which a user may have pointed at a folder holding other files
  RMDir /r "$INSTDIR\_internal"
  RMDir /r "$INSTDIR\licenses"
  Delete "$INSTDIR\certline.exe"
  Delete "$INSTDIR\certline-gui.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  DeleteRegKey SHCTX "${UNINSTKEY}"
  DeleteRegKey SHCTX "${REGKEY}"
SectionEnd
