#!/bin/sh
# Write the .deb's maintainer scripts to DIR, with running_check.sh pasted into preinst and
# prerm at "# @RUNNING_CHECK@" (dpkg runs preinst before any of the package's files exist,
# so the scripts cannot source a shared file).
#   packaging/linux/render_scripts.sh DIR
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
dir="$1"
mkdir -p "$dir"
for script in preinst prerm postinst postrm; do
    sed -e "/^# @RUNNING_CHECK@\$/{r $here/running_check.sh" -e 'd;}' "$here/$script" >"$dir/$script"
    chmod 755 "$dir/$script"
    sh -n "$dir/$script"
done
