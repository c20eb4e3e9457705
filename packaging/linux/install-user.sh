#!/bin/sh
# Certline from the .tar.gz: add (or remove) a menu entry and the `certline` command for
# this user only -- no root needed, nothing outside your home directory is touched.
#
#   ./install-user.sh             menu entry "Certline", icon, ~/.local/bin/certline
#   ./install-user.sh --uninstall remove them again (the unpacked folder is left alone)
#
# The program stays where you unpacked it; move the folder and run this again. Serial
# ports and the udev rule need root once; this script prints what to run.
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
BIN="$HOME/.local/bin"
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$APPS/certline.desktop" "$BIN/certline" "$BIN/certline-gui"
    find "$ICONS" -path '*/apps/certline.*' -delete 2>/dev/null || true
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$APPS" 2>/dev/null || true
    echo "Certline's menu entry and commands were removed for $(id -un). Delete $HERE yourself if you like."
    exit 0
fi
[ -z "${1:-}" ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ -x "$HERE/certline-gui" ] || { echo "install-user.sh: no certline-gui next to this script" >&2; exit 1; }

mkdir -p "$APPS" "$BIN"
# The packaged desktop file, pointed at this folder instead of /opt/certline
sed -e "s|/opt/certline/|$HERE/|g" "$HERE/share/applications/certline.desktop" >"$APPS/certline.desktop"
chmod 644 "$APPS/certline.desktop"
for icon in "$HERE"/share/icons/hicolor/*/apps/certline.*; do
    size="$(basename "$(dirname "$(dirname "$icon")")")"
    mkdir -p "$ICONS/$size/apps"
    cp "$icon" "$ICONS/$size/apps/"
done
ln -sf "$HERE/certline" "$BIN/certline"
ln -sf "$HERE/certline-gui" "$BIN/certline-gui"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$APPS" 2>/dev/null || true

cat <<MSG
Certline is in your applications menu, and 'certline' is in $BIN.

Serial ports (once, as root; see README.md, "Serial ports"):
    sudo install -m 644 $HERE/share/udev/60-certline-serial.rules /etc/udev/rules.d/
    sudo udevadm control --reload-rules && sudo udevadm trigger --subsystem-match=tty
or join the dialout group:
    sudo usermod -aG dialout $(id -un)      (then log out and back in)

Check the installation:  certline selftest
MSG
