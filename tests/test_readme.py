"""
README.md states facts that code also states: keep the two in step.
"""

import os
import subprocess
import sys

from twisted.trial import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import config_reference  # noqa: E402


def _read(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return f.read()


class ReadmeTests(unittest.TestCase):

    def test_configuration_reference_is_current(self):
        readme = _read("README.md")
        self.assertIn(config_reference.reference_table(), readme,
                      "README.md's configuration table differs from"
                      " scripts/config_reference.py's output: paste it in")

    def test_every_config_key_of_the_shipped_file_is_documented(self):
        import yaml
        readme = _read("README.md")
        shipped = yaml.safe_load(_read("config.yaml"))

        def keys(mapping, prefix=""):
            for name, value in mapping.items():
                if isinstance(value, dict):
                    yield from keys(value, prefix + name + ".")
                else:
                    yield prefix + name

        for key in keys(shipped):
            self.assertIn("`%s`" % (key,), readme)

    def test_ci_calls_the_readme_test_command(self):
        readme = _read("README.md")
        command = "sh scripts/bootstrap.sh test"
        self.assertIn(command, readme)
        self.assertIn("exec " + command, _read(".ci", "run"))

    def test_admin_commands_in_readme_exist(self):
        readme = _read("README.md")
        from pyhss.admin import COMMANDS
        for group, action in COMMANDS:
            name = group if action is None else "%s %s" % (group, action)
            self.assertIn("`%s" % (name,), readme)

    def test_ss7tools_subcommands_in_readme_exist(self):
        readme = _read("README.md")
        out = subprocess.run([sys.executable, "-m", "ss7tools", "--help"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        for name in ("parse", "split", "sort", "flatten", "simulate", "send", "udp-server",
                     "udp-load", "rate"):
            self.assertIn(name, out)
            self.assertIn("`ss7tools %s" % (name,), readme)

    def test_ss7replay_options_in_readme(self):
        readme = _read("README.md")
        from ss7tools.replay import tap
        for options in (tap.ServerOptions, tap.ClientOptions):
            names = [p[0] for p in options.optParameters]
            names += [name[4:].replace("_", "-") for name in dir(options)
                      if name.startswith("opt_") and name not in ("opt_help", "opt_version")]
            for name in names:
                self.assertIn("--%s" % (name,), readme, options.command)
