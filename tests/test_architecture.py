"""
ARCHITECTURE.md's import rules hold: every import between parts of the
repository is one its table allows.  The table is read from the document
itself, so the two cannot drift apart.
"""

import ast
import os
import re

from twisted.trial import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("pyhss", "ss7tools")


def rules():
    """part -> set of allowed patterns ('pyhss.node', 'pyhss.*')."""
    with open(os.path.join(ROOT, "ARCHITECTURE.md")) as f:
        text = f.read()
    table = text.split("<!-- import-rules")[1].split("<!-- end of import-rules")[0]
    found = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        part = cells[0].strip("`")
        found[part] = set(re.findall(r"`([a-z0-9_.*]+)`", cells[1]))
    return found


def part_of(module, parts):
    """The most specific part that holds ``module``."""
    best = None
    for part in parts:
        if module == part or module.startswith(part + "."):
            if best is None or len(part) > len(best):
                best = part
    return best


def imports(path):
    """The absolute module names a file imports (``from x import y``
    yields x.y too, for ``from pyhss import logsetup``)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            for alias in node.names:
                yield node.module + "." + alias.name


def modules():
    for package in PACKAGES:
        for directory, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    yield module.rsplit(".__init__", 1)[0], path


def allowed(target, patterns):
    return any(target == p or target.startswith(p + ".")
               or (p.endswith(".*") and target.startswith(p[:-1]))
               for p in patterns)


class ImportRuleTests(unittest.TestCase):

    def test_table_is_read(self):
        table = rules()
        self.assertIn("pyhss.protocols", table)
        self.assertEqual(table["pyhss.auc"], set())

    def test_every_import_is_allowed(self):
        table = rules()
        parts = list(table)
        broken = []
        for module, path in modules():
            if module in PACKAGES:
                # The packages' own __init__ modules import nothing.
                self.assertEqual(list(imports(path)), [], module)
                continue
            source = part_of(module, parts)
            self.assertIsNotNone(source, "%s is in no part of ARCHITECTURE.md" % (module,))
            for name in imports(path):
                if name.split(".")[0] not in PACKAGES:
                    continue
                target = part_of(name, parts) or name
                if target == source or source.startswith(target + "."):
                    continue
                if name.split(".")[0] == source.split(".")[0] and target in PACKAGES:
                    continue    # "from pyhss import x": x is checked itself
                if not allowed(target, table[source]) and not allowed(name, table[source]):
                    broken.append("%s imports %s" % (module, name))
        self.assertEqual(sorted(set(broken)), [])

    def test_checker_catches_a_forbidden_import(self):
        table = rules()
        self.assertFalse(allowed("pyhss.storage", table["pyhss.protocols"]))
        self.assertTrue(allowed("pyhss.node", table["pyhss.tap"]))
