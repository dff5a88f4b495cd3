#!/bin/sh
# One entry point for a fresh Debian/Ubuntu machine, run as root:
#   scripts/bootstrap.sh run    install everything, provision a demo subscriber, start the HSS
#   scripts/bootstrap.sh test   install everything (test tools too) and run the whole test suite
#   scripts/bootstrap.sh install [test]   only install
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
export DEBIAN_FRONTEND=noninteractive

APT_BASE="python3 python3-venv python3-dev gcc libsctp-dev"
# tshark and freeDiameter are the real peers/decoders the integration tests use;
# the freeDiameter headers build the test MME extension (tests/fd_mme); Kamailio's
# IMS modules are the I-CSCF and S-CSCF of the Cx test (ims_usrloc_scscf needs presence;
# strace holds its processes at chosen moments to force the races it must survive);
# chromium and its driver: the web console is tested in a real browser (Selenium);
# mariadb-server and postgresql: the store tests start their own mariadbd and
# postgres in temporary directories (tests/db_servers.py), never the system's;
# user-mode-linux (a Linux kernel with SCTP, run as a process) and kmod (its
# modprobe) give the SCTP tests a real kernel stack where the host has none.
APT_TEST="tshark freediameter libfreediameter-dev gcc libc6-dev kamailio kamailio-ims-modules kamailio-sqlite-modules kamailio-presence-modules sip-tester strace chromium chromium-driver user-mode-linux kmod mariadb-server postgresql"

apt_install() {
    missing=""
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    echo "bootstrap: apt-get install$missing"
    # Wait for another apt run (an unattended upgrade, a parallel install) instead of failing.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
}

install() {
    if [ "${1:-}" = test ]; then apt_install $APT_BASE $APT_TEST; else apt_install $APT_BASE; fi
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
    extras="sctp"
    [ "${1:-}" = test ] && extras="sctp,test"
    "$VENV/bin/pip" install -q --config-settings editable_mode=compat -e ".[$extras]"
}

case "${1:-}" in
    install)
        install "${2:-}"
        ;;
    run)
        install
        mkdir -p var
        "$VENV/bin/pyhss-admin" --config config.yaml apn add internet --qci 9 --arp 8 \
            --ambr-ul 50000000 --ambr-dl 100000000 --pdn-type ipv4v6 --if-missing
        "$VENV/bin/pyhss-admin" --config config.yaml subscriber add --imsi 001010000000001 \
            --k 465B5CE8B199B49FAA5F0A2EE238A6BC --opc CD63CB71954A9F4E48A5994E37A02BAF \
            --amf 8000 --sqn 0 --msisdn 15551230001 --apn internet --if-missing
        exec "$VENV/bin/twistd" -n pyhss --config config.yaml
        ;;
    test)
        shift
        install test
        exec "$VENV/bin/python" scripts/run_tests.py "$@"
        ;;
    *)
        echo "usage: $0 run|test|install [test]" >&2
        exit 2
        ;;
esac
