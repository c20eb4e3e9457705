# --- shared by preinst and prerm (render_scripts.sh pastes it in at the marker line) --------
# A running Certline reads its modules from /opt/certline lazily: replacing or removing the
# files under it makes the next first-time import fail (zlib.error) in front of a unit.
# So an upgrade or removal while Certline runs is refused, with what to do. Site IT that
# must push the update anyway sets CERTLINE_UPGRADE_WHILE_RUNNING=1; the running window
# then notices the replaced files, pauses its batch and asks for a restart.
CERTLINE_DIR="${CERTLINE_INSTALL_DIR:-/opt/certline}"

# "PID USER PROGRAM" for every process running a program from $CERTLINE_DIR
certline_processes() {
    for exe in /proc/[0-9]*/exe; do
        target="$(readlink "$exe" 2>/dev/null)" || continue
        case "$target" in
            "$CERTLINE_DIR"/certline | "$CERTLINE_DIR"/certline-gui | \
                "$CERTLINE_DIR/certline (deleted)" | "$CERTLINE_DIR/certline-gui (deleted)")
                pid="${exe#/proc/}"
                pid="${pid%/exe}"
                user="$(stat -c %U "/proc/$pid" 2>/dev/null || echo '?')"
                echo "$pid $user ${target% (deleted)}"
                ;;
        esac
    done
}

# refuse_if_running WHAT: exit 1 (dpkg then leaves the installed version alone) while Certline runs
refuse_if_running() {
    running="$(certline_processes)"
    [ -n "$running" ] || return 0
    {
        echo
        echo "Certline is running and cannot be $1 safely:"
        echo "$running" | while read -r pid user program; do
            echo "    PID $pid, user $user: $program"
        done
        if [ "${CERTLINE_UPGRADE_WHILE_RUNNING:-}" = "1" ]; then
            echo "CERTLINE_UPGRADE_WHILE_RUNNING=1: continuing. The running window will pause its"
            echo "batch and ask for a restart; close it and start Certline again."
            echo
        else
            echo "Ask the technician to finish or pause the batch and close Certline, then run the"
            echo "installation again. To go ahead anyway (the window then pauses and asks for a"
            echo "restart): sudo CERTLINE_UPGRADE_WHILE_RUNNING=1 apt-get install ..."
            echo
        fi
    } >&2
    [ "${CERTLINE_UPGRADE_WHILE_RUNNING:-}" = "1" ] || exit 1
}
# --- end of the shared part ------------------------------------------------------------------
