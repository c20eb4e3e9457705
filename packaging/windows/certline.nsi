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
; Silent install: setup.exe /S [/AllUsers | /CurrentUser] [/D=C:\path]  (/D must come last)
; Silent uninstall: "<install dir>\uninstall.exe" /S
; The user's profiles, journal and logs (%LOCALAPPDATA%\certline) are never removed.

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

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\certline-gui.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start Certline"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MULTIUSER_PAGE_INSTALLMODE
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "German"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_OK|MB_ICONSTOP "Certline needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
  !insertmacro MULTIUSER_INIT
FunctionEnd

Function un.onInit
  SetRegView 64
  !insertmacro MULTIUSER_UNINIT
FunctionEnd

; --- install ---------------------------------------------------------------------------------
Section "Certline" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the bundle as a whole: files a previous version had must not linger
  ; in _internal (Python would import them).
  RMDir /r "$INSTDIR\_internal"
  File "${BUNDLE}\certline.exe"
  File "${BUNDLE}\certline-gui.exe"
  File /r "${BUNDLE}\_internal"

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

; --- uninstall -------------------------------------------------------------------------------
Section "Uninstall"
  Delete "$SMPROGRAMS\${APPNAME}\${APPNAME}.lnk"
  Delete "$SMPROGRAMS\${APPNAME}\${APPNAME} self-test.lnk"
  RMDir "$SMPROGRAMS\${APPNAME}"

  ; only what the installer put there: never a recursive delete of $INSTDIR itself,
  ; which a user may have pointed at a folder holding other files
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\certline.exe"
  Delete "$INSTDIR\certline-gui.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  DeleteRegKey SHCTX "${UNINSTKEY}"
  DeleteRegKey SHCTX "${REGKEY}"
SectionEnd
