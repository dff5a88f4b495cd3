#!/usr/bin/env python
"""
Bulk load rate of ``pyhss-admin import``: writes a CSV of N subscribers
(default 1,000,000; every column filled, keys distinct per IMSI), then for
each backend runs ``pyhss-admin import FILE`` as its own process against
an empty database and prints the seconds it took, subscribers per second
and the import process's peak memory (its maximum resident set, from
wait4), then one JSON line.

    .venv/bin/python bench/import_rate.py                      # SQLite and MariaDB, 1,000,000
    .venv/bin/python bench/import_rate.py --count 200000 --backends sqlite,mariadb,postgresql

MariaDB and PostgreSQL are private servers started for the run (durable
settings: a flush per commit) in a temporary directory, stopped at the
end (tests/db_servers.py).  Targets: SQLite under 2 minutes, MariaDB under
5 minutes for 1,000,000; the peak memory should not grow with N (the CSV
is streamed into one transaction a chunk at a time).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

HSS = {"OriginHost": "hss.bench.example.org", "OriginRealm": "bench.example.org", "MCC": "001", "MNC": "01"}
HEADER = ("imsi,k,opc,op,amf,sqn,msisdn,apns,enabled,roaming_allowed,ue_ambr_ul,ue_ambr_dl,"
          "network_access_mode,periodic_rau_tau_timer,access_restriction_data\n")


def write_csv(path, count, imsi_first=1010000000000):
    with open(path, "w") as handle:
        handle.write(HEADER)
        for index in range(count):
            imsi = "%015d" % (imsi_first + index,)
            digest = hashlib.sha256(imsi.encode()).hexdigest().upper()
            handle.write(f"{imsi},{digest[:32]},{digest[32:]},,8000,{index},1555{index % 10 ** 7:07d},"
                         f"internet,true,true,50000000,100000000,2,3240,0\n")


def admin(config, *argv):
    """Run pyhss-admin; (exit status, seconds, peak RSS in MiB, output)."""
    command = [sys.executable, "-m", "pyhss.admin", "--config", config] + list(argv)
    env = dict(os.environ, PYTHONPATH=_ROOT)
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    return process.returncode, time.monotonic() - started, usage.ru_maxrss / 1024.0, output.decode(errors="replace")


def database_for(backend, directory):
    if backend == "sqlite":
        return {"backend": "sqlite", "sqlite": {"path": os.path.join(directory, "bench.sqlite3")}}, None
    from tests import db_servers
    server = db_servers.private_server(backend, durable=True)
    return server.server_config(server.create_database()), server


def run(backend, csv_path, count, directory):
    import yaml
    database, server = database_for(backend, directory)
    try:
        config = os.path.join(directory, f"{backend}.yaml")
        with open(config, "w") as handle:
            yaml.safe_dump({"hss": HSS, "control": {"socket": ""}, "database": database,
                            "logging": {"level": "warn"}}, handle)
        status, _, _, output = admin(config, "apn", "add", "internet")
        if status:
            raise SystemExit(f"{backend}: apn add failed: {output}")
        status, seconds, peak, output = admin(config, "import", csv_path)
        if status:
            raise SystemExit(f"{backend}: import failed: {output}")
        return {"backend": backend, "subscribers": count, "seconds": round(seconds, 1),
                "per_second": round(count / seconds), "peak_rss_mib": round(peak, 1)}
    finally:
        if server is not None:
            server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000000, help="subscribers (default 1000000)")
    parser.add_argument("--backends", default="sqlite,mariadb",
                        help="comma-separated: sqlite, mariadb, postgresql (default sqlite,mariadb)")
    options = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="pyhss-import-bench-")
    try:
        csv_path = os.path.join(directory, "subscribers.csv")
        started = time.monotonic()
        write_csv(csv_path, options.count)
        print(f"wrote {options.count} subscribers ({os.path.getsize(csv_path) / 2 ** 20:.0f} MiB) in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        results = []
        for backend in options.backends.split(","):
            result = run(backend.strip(), csv_path, options.count, directory)
            results.append(result)
            print(f"{result['backend']:<11} {result['subscribers']} subscribers in {result['seconds']} s "
                  f"({result['per_second']}/s), peak memory {result['peak_rss_mib']} MiB", flush=True)
        print(json.dumps(results))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
