"""Kamailio 5.6 (Debian's kamailio and kamailio-ims-modules) as an I-CSCF
and an S-CSCF on 127.0.0.1 for the Cx interoperability test: throw-away
configuration files, each instance in a private mount namespace whose
/etc/hosts names our hosts (cdp resolves every Diameter peer, the I-CSCF
routes to the S-CSCF by name), run in the foreground by the reactor, its
log kept for failure messages and stopped by PID.
"""

import os
import re
import shutil
import socket
import sqlite3

from twisted.internet import defer

from tests.interop_helpers import StoppableProcess, wait_until

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
STRACE = shutil.which("strace") or "/usr/bin/strace"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
# The TS 29.228 Annex E schema as Kamailio ships it; the S-CSCF checks our
# User-Data against it (user_data_xsd).
CX_XSD = "/usr/share/doc/kamailio/examples/ims/scscf/CxDataType_Rel7.xsd"
NEEDED_MODULES = ("cdp", "cdp_avp", "ims_icscf", "ims_auth", "ims_registrar_scscf", "ims_usrloc_scscf",
                  "db_sqlite", "tm", "sl", "ctl", "presence")

REALM = "ims.test"
HSS_HOST = "hss.ims.test"
ICSCF_HOST = "icscf.ims.test"
SCSCF_HOST = "scscf.ims.test"


def skip_reason():
    """Why the Kamailio test cannot run here, or None."""
    if not os.path.exists(KAMAILIO) or not os.path.exists(KAMCMD):
        return "kamailio is not installed (apt-get install kamailio kamailio-ims-modules kamailio-sqlite-modules kamailio-presence-modules)"
    missing = [m for m in NEEDED_MODULES if not os.path.exists(os.path.join(MODULES, m + ".so"))]
    if missing:
        return "Kamailio modules missing: %s (kamailio-ims-modules, kamailio-sqlite-modules, kamailio-presence-modules)" % ", ".join(missing)
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "needs root and unshare to give Kamailio a private /etc/hosts"
    return None


def free_udp_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


CDP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<DiameterPeer FQDN="{host}" Realm="{realm}" Vendor_Id="10415" Product_Name="CDiameterPeer"
    AcceptUnknownPeers="0" DropUnknownOnDisconnect="1" Tc="5" Workers="2" QueueLength="32"
    TransactionTimeout="5" SessionsHashSize="16" DefaultAuthSessionTimeout="60" MaxAuthSessionTimeout="60">
  <Peer FQDN="{hss}" Realm="{realm}" port="{hss_port}"/>
  <Acceptor port="{acceptor}" bind="127.0.0.1"/>
  <Auth id="16777216" vendor="10415"/>
  <SupportedVendor vendor="10415"/>
  <DefaultRoute FQDN="{hss}" metric="10"/>
</DiameterPeer>
"""

COMMON = """#!KAMAILIO
debug={debug}
log_stderror=yes
memdbg=5
memlog=5
children=2
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
dns_try_ipv6=no
dns_try_naptr=no
disable_tcp=yes
listen=udp:127.0.0.1:{sip_port}
alias={host}:{sip_port}
mpath="{modules}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "kex.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "maxfwd.so"
loadmodule "ctl.so"
loadmodule "cdp.so"
loadmodule "cdp_avp.so"
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("cdp", "config_file", "{directory}/cdp.xml")
modparam("tm", "fr_timer", 5000)
"""

ICSCF = COMMON + """
loadmodule "db_sqlite.so"
loadmodule "ims_icscf.so"
modparam("ims_icscf", "db_url", "sqlite:///{directory}/icscf.sqlite")
modparam("ims_icscf", "cxdx_dest_realm", "{realm}")
modparam("ims_icscf", "cxdx_forced_peer", "{hss}")

route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("REGISTER")) {{
        t_set_fr(5000, 5000);
        if (I_scscf_select("0")) {{
            t_on_reply("register_reply");
            if (!t_relay()) {{ send_reply("500", "Error forwarding towards S-CSCF"); }}
            exit;
        }}
        I_scscf_drop();
        if (!I_perform_user_authorization_request("UAR_REPLY", "0")) {{ send_reply("500", "Error in Request"); }}
        exit;
    }}
    if (is_method("INVITE|MESSAGE")) {{
        I_perform_location_information_request("LIR_REPLY", "0");
        exit;
    }}
    send_reply("405", "Method not allowed at the I-CSCF");
}}

route[UAR_REPLY] {{
    if ($avp(s:uaa_return_code) == 1) {{
        if (I_scscf_select("0")) {{
            t_on_reply("register_reply");
            if (!t_relay()) {{ t_reply("500", "Error forwarding to S-CSCF"); }}
        }} else {{
            I_scscf_drop();
            t_reply("500", "Server error on S-CSCF select (UAR)");
        }}
    }} else if ($avp(s:uaa_return_code) == -2) {{
        t_reply("500", "UAR failed");
    }}
}}

route[LIR_REPLY] {{
    if ($avp(lia_return_code) == 1 && I_scscf_select("0")) {{
        if (!t_relay()) {{ t_reply("500", "Error forwarding to S-CSCF"); }}
    }} else {{
        I_scscf_drop();
        t_reply("404", "Not Found (LIR)");
    }}
}}

onreply_route[register_reply] {{
    if (!t_check_status("401")) {{ I_scscf_drop(); }}
}}
"""

SCSCF = COMMON + """
loadmodule "rr.so"
loadmodule "ims_dialog.so"
modparam("ims_dialog", "dlg_flag", 2)
modparam("ims_dialog", "timeout_avp", "$avp(i:1)")
modparam("ims_dialog", "detect_spirals", 0)
modparam("ims_dialog", "profiles_no_value", "orig ; term")
loadmodule "presence.so"
loadmodule "ims_usrloc_scscf.so"
# Expired and de-registered contacts purged within a second (RTR marks them).
modparam("ims_usrloc_scscf", "timer_interval", 1)
modparam("ims_usrloc_scscf", "contact_delete_delay", 0)
loadmodule "ims_registrar_scscf.so"
loadmodule "ims_auth.so"
modparam("ims_auth", "name", "sip:{host}:{sip_port}")
modparam("ims_auth", "cxdx_forced_peer", "{hss}")
modparam("ims_auth", "cxdx_dest_realm", "{realm}")
modparam("ims_auth", "registration_default_algorithm", "AKAv1-MD5")
modparam("ims_auth", "registration_qop", "auth")
modparam("ims_auth", "av_request_at_once", 1)
modparam("ims_auth", "av_request_at_sync", 1)
modparam("ims_registrar_scscf", "scscf_name", "sip:{host}:{sip_port}")
modparam("ims_registrar_scscf", "cxdx_forced_peer", "{hss}")
modparam("ims_registrar_scscf", "cxdx_dest_realm", "{realm}")
modparam("ims_registrar_scscf", "user_data_xsd", "{xsd}")
modparam("ims_registrar_scscf", "min_expires", 10)
modparam("ims_registrar_scscf", "default_expires", 600)

route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("REGISTER")) {{
        # The I-CSCF's retransmission (T1, 500 ms) of a REGISTER whose MAR
        # is out ends here; ims_auth would send a second MAR for it.
        t_check_trans();
        if (!ims_www_authenticate("{realm}")) {{
            if ($? == -2) {{ send_reply("403", "Authentication Failed"); exit; }}
            if ($? == -3) {{ send_reply("400", "Bad Request"); exit; }}
            # Fetch a vector first (MAR; with the UE's AUTS after -9), then
            # challenge from the store: 5.6.3's ims_www_challenge sends the
            # 401 from its MAA callback before it stores the vector, so an
            # answer that beats the storing finds no vector and is
            # challenged again (401). ims_www_resync_auth only stores.
            ims_www_resync_auth("REG_VECTOR_STORED", "{realm}");
            exit;
        }}
        # All four arguments: Debian's 5.6.3 dispatches save() with two to
        # its four-argument wrapper, which reads the missing flags (SIGSEGV).
        save("REG_SAR_REPLY", "location", "0", "0");
        exit;
    }}
    send_reply("405", "Method not allowed here");
}}

route[REG_VECTOR_STORED] {{
    # 1: stored; -1: the MAA callback has answered (403); -2: no MAA.
    if ($avp(s:maa_return_code) == 1) {{
        # Marks the stored vector sent and sends the 401 under its lock.
        ims_www_challenge("REG_MAR_REPLY", "{realm}", "AKAv1-MD5");
    }} else if ($avp(s:maa_return_code) == -2) {{
        send_reply("500", "MAR failed");
    }}
    exit;
}}

route[REG_MAR_REPLY] {{
    if ($avp(s:maa_return_code) == -2) {{ send_reply("500", "MAR failed"); }}
    exit;
}}

route[REG_SAR_REPLY] {{
    exit;
}}
"""


class KamailioProcess(StoppableProcess):
    """One Kamailio instance; ``output`` is its log (stderr)."""

    def __init__(self, name):
        self.name = name
        self.output = bytearray()
        self.ended = defer.Deferred()

    def childDataReceived(self, fd, data):
        self.output.extend(data)
        if len(self.output) > 4_000_000:   # keep the tail only
            del self.output[:1_000_000]

    def processEnded(self, reason):
        self.ended.callback(reason.value.exitCode)

    @property
    def running(self):
        return not self.ended.called

    def text(self, last=int(os.environ.get("KAMAILIO_LOG_TAIL", "8000"))):
        return self.output.decode("utf-8", "replace")[-last:]



class TracerProcess(StoppableProcess):
    """strace attached to some Kamailio processes; SIGTERM detaches it."""

    def __init__(self):
        self.output = bytearray()
        self.ended = defer.Deferred()

    def childDataReceived(self, fd, data):
        self.output = (self.output + data)[-4000:]

    def processEnded(self, reason):
        self.ended.callback(reason.value.exitCode)

    @property
    def running(self):
        return not self.ended.called


def _traced(pid):
    with open("/proc/%d/status" % pid) as handle:
        return "\nTracerPid:\t0\n" not in handle.read()


class ImsCore:
    """The I-CSCF and S-CSCF in ``directory``, connecting to the HSS on
    127.0.0.1:``hss_port``."""

    def __init__(self, directory, hss_port, sockets):
        """``sockets``: a directory with a short path for the control
        sockets (a UNIX socket path has at most 104 bytes for Kamailio)."""
        self.directory = directory
        self.sockets = sockets
        self.hss_port = hss_port
        self.icscf_port = free_udp_port()
        self.scscf_port = free_udp_port()
        self.scscf_uri = "sip:%s:%d" % (SCSCF_HOST, self.scscf_port)
        self.processes = {}
        self.tracers = []

    def _write(self, name, text):
        path = os.path.join(self.directory, name)
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def _instance(self, name, host, sip_port, template):
        directory = os.path.join(self.directory, name)
        os.makedirs(directory)
        values = dict(host=host, realm=REALM, hss=HSS_HOST, hss_port=self.hss_port, sip_port=sip_port,
                      directory=directory, modules=MODULES, xsd=CX_XSD,
                      ctl=os.path.join(self.sockets, name + ".ctl"), debug=os.environ.get("KAMAILIO_DEBUG", "2"))
        with open(os.path.join(directory, "cdp.xml"), "w") as handle:
            handle.write(CDP_XML.format(acceptor=sip_port, **values))   # a free TCP port too, most likely
        config = os.path.join(directory, "kamailio.cfg")
        with open(config, "w") as handle:
            handle.write(template.format(**values))
        return directory, config

    def _icscf_database(self, directory):
        conn = sqlite3.connect(os.path.join(directory, "icscf.sqlite"))
        conn.executescript("""
            CREATE TABLE s_cscf (id INTEGER PRIMARY KEY, name TEXT NOT NULL, s_cscf_uri TEXT NOT NULL);
            CREATE TABLE s_cscf_capabilities (id INTEGER PRIMARY KEY, id_s_cscf INTEGER NOT NULL,
                                              capability INTEGER NOT NULL);
            CREATE TABLE nds_trusted_domains (id INTEGER PRIMARY KEY, trusted_domain TEXT NOT NULL);
        """)
        conn.execute("INSERT INTO s_cscf (id, name, s_cscf_uri) VALUES (1, 'S-CSCF', ?)", (self.scscf_uri,))
        conn.execute("INSERT INTO s_cscf_capabilities (id, id_s_cscf, capability) VALUES (1, 1, 0)")
        conn.execute("INSERT INTO nds_trusted_domains (id, trusted_domain) VALUES (1, ?)", (REALM,))
        conn.commit()
        conn.close()

    def start(self, reactor):
        hosts = self._write("hosts", "127.0.0.1 localhost %s %s %s\n" % (HSS_HOST, ICSCF_HOST, SCSCF_HOST))
        icscf_dir, icscf_cfg = self._instance("icscf", ICSCF_HOST, self.icscf_port, ICSCF)
        self._icscf_database(icscf_dir)
        scscf_dir, scscf_cfg = self._instance("scscf", SCSCF_HOST, self.scscf_port, SCSCF)
        for name, directory, config in (("icscf", icscf_dir, icscf_cfg), ("scscf", scscf_dir, scscf_cfg)):
            process = KamailioProcess(name)
            command = ("mount --bind '%s' /etc/hosts && exec '%s' -f '%s' -w '%s' -Y '%s' -P '%s/pid' "
                       "-DD -E -m 64 -M 8" % (hosts, KAMAILIO, config, directory, directory, directory))
            reactor.spawnProcess(process, "/usr/bin/unshare", ["unshare", "-m", "sh", "-c", command],
                                 env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                                 childFDs={0: "w", 1: "r", 2: "r"})
            self.processes[name] = process

    def ended(self):
        """The instances that are no longer running."""
        return [name for name, p in self.processes.items() if not p.running]

    def logs(self):
        return "\n".join("==== Kamailio %s (exit %s) ====\n%s" % (
            name, "running" if p.running else p.ended.result, p.text()) for name, p in self.processes.items())

    @defer.inlineCallbacks
    def stop(self, reactor):
        yield defer.DeferredList([t.stop(reactor) for t in self.tracers], consumeErrors=True)
        yield defer.DeferredList([p.stop(reactor) for p in self.processes.values()], consumeErrors=True)

    @defer.inlineCallbacks
    def hold_after_send(self, reactor, name, role, seconds):
        """Hold instance ``name``'s processes whose description (kamcmd
        core.psx) starts with ``role`` for ``seconds`` each time a sendto()
        returns, with strace's fault injection: what a process preempted
        right after sending does on a loaded machine, every time. Fires
        once strace holds them all; stop() detaches it."""
        listing = (yield self.kamcmd(reactor, name, "core.psx")).decode("utf-8", "replace")
        pids = [int(pid) for pid, what in re.findall(r"PID: (\d+)\s+DSC: ([^\n]*)", listing)
                if what.startswith(role)]
        if not pids:
            raise ValueError("no %r process in the %s: %s" % (role, name, listing))
        tracer = TracerProcess()
        arguments = ["strace", "-qq", "-o", "/dev/null", "-e", "trace=sendto",
                     "-e", "inject=sendto:delay_exit=%d" % int(seconds * 1e6)]
        for pid in pids:
            arguments += ["-p", str(pid)]
        reactor.spawnProcess(tracer, STRACE, arguments, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                             childFDs={0: "w", 1: "r", 2: "r"})
        self.tracers.append(tracer)
        yield wait_until(lambda: not tracer.running or all(_traced(pid) for pid in pids), 5.0,
                         "strace to attach to %s" % pids, clock=reactor)
        if not tracer.running:
            raise RuntimeError("strace exited: %s" % tracer.output.decode("utf-8", "replace"))

    def kamcmd(self, reactor, name, *arguments):
        """Run kamcmd against instance ``name``'s control socket: its output."""
        from twisted.internet import utils
        socket_path = os.path.join(self.sockets, name + ".ctl")
        return utils.getProcessOutput(KAMCMD, ["-s", "unix:" + socket_path] + list(arguments),
                                      errortoo=True, reactor=reactor)
