"""The suite's own layout: a test module is never a library. What two test modules share lives
in tests/factories.py, tests/helpers/ or tests/fixtures/ (see tests/conftest.py), so that a
newcomer finds it there, and so that moving or deleting a test never breaks another.

Plain `ast` over the files: nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCHED = [ROOT / "tests", ROOT / "benchmarks"]


def _is_test_module(dotted: str) -> bool:
    """`tests.deliveries.test_expected` or a conftest: modules pytest owns, not libraries."""
    parts = dotted.split(".")
    return parts[0] == "tests" and (parts[-1].startswith("test_") or parts[-1] == "conftest")


def _module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _absolute(node: ast.ImportFrom, importer: str) -> str:
    """The module an import names, with a relative import (`from .x import y`) resolved."""
    if node.level == 0:
        return node.module or ""
    package = importer.split(".")[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])])


def imports_of_test_modules(source: str, importer: str) -> list[str]:
    """The test modules and conftests that `source` (the module `importer`) imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, importer)
            if _is_test_module(module):
                found.append(module)
            else:  # `from tests.deliveries import test_expected`
                names = (f"{module}.{alias.name}" for alias in node.names)
                found += [name for name in names if _is_test_module(name)]
    return found


def test_no_module_imports_a_test_module_or_a_conftest():
    offenders = {}
    for folder in SEARCHED:
        for path in sorted(folder.rglob("*.py")):
            imported = imports_of_test_modules(path.read_text(encoding="utf-8"), _module_of(path))
            if imported:
                offenders[str(path.relative_to(ROOT))] = imported
    assert offenders == {}, (
        "Test modules and conftests are not libraries: move what is shared to tests/factories.py "
        "(rows), tests/helpers/ (infrastructure) or tests/fixtures/ (fixtures, loaded by "
        "pytest_plugins in tests/conftest.py)."
    )


def test_the_check_sees_every_way_of_importing_a_test_module():
    importer = "tests.front.test_coverage_cache"
    for source in (
        "from tests.deliveries.test_expected import walk_to",
        "import tests.deliveries.test_expected",
        "import tests.deliveries.test_expected as expected",
        "from tests.deliveries import test_expected",
        "from .test_coverage import table_of",
        "from . import test_coverage",
        "from tests.conftest import free_port",
        "from tests.e2e.conftest import Portal",
        "def f():\n    from tests.deliveries.test_expected import walk_to",
    ):
        assert imports_of_test_modules(source, importer), source
    for source in (
        "from tests import factories",
        "from tests.factories import dagtilbud_csv",
        "from tests.helpers.lifecycle import walk_to",
        "from tests.helpers import standin",
        "import tests.helpers.sshd",
        "from .helpers import x",
    ):
        assert not imports_of_test_modules(source, importer), source
