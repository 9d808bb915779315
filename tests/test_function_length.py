"""No function in the portal's code is longer than MAX_LINES: a longer one is doing several
things, and splitting it into named parts lets the top function read as the steps it takes.

Counted from the `def` line to the function's last line (decorators not counted, docstring and
comments counted), for every function, method and nested function under flisportal/, routes/ and
deliveries/, migrations excluded (they are generated). Plain `ast`: no database, no network.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("flisportal", "routes", "deliveries")
MAX_LINES = 80

# Functions allowed to be longer, as "path::qualified name", each with the reason. An entry
# that is no longer too long (or no longer exists) fails `test_allow_list_is_current`, so the
# list only shrinks.
ALLOWED: dict[str, str] = {}


def _functions(
    tree: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function in `tree` with its dotted name (`Class.method`, `outer.inner`)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            # Functions defined under an `if`, `try` or `with` keep the enclosing prefix.
            yield from _functions(node, prefix)


def long_functions(source: str, where: str, max_lines: int = MAX_LINES) -> dict[str, int]:
    """`where::name` → length of every function in `source` longer than `max_lines`."""
    found = {}
    for name, node in _functions(ast.parse(source)):
        assert node.end_lineno is not None
        length = node.end_lineno - node.lineno + 1
        if length > max_lines:
            found[f"{where}::{name}"] = length
    return found


def _source_files() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def _all_long_functions() -> dict[str, int]:
    found: dict[str, int] = {}
    for path in _source_files():
        where = path.relative_to(ROOT).as_posix()
        found.update(long_functions(path.read_text(encoding="utf-8"), where))
    return found


def test_no_function_is_longer_than_the_limit() -> None:
    too_long = {
        name: length for name, length in _all_long_functions().items() if name not in ALLOWED
    }
    assert not too_long, (
        f"functions longer than {MAX_LINES} lines; split them into named parts (or, if one "
        f"reads better long, add it to ALLOWED with the reason): {too_long}"
    )


def test_allow_list_is_current() -> None:
    stale = sorted(set(ALLOWED) - set(_all_long_functions()))
    assert not stale, f"no longer too long (or gone); remove from ALLOWED: {stale}"


def test_the_scan_sees_the_portal() -> None:
    # A scan that found no files (a moved root, a wrong glob) would pass the tests above.
    files = {path.relative_to(ROOT).as_posix() for path in _source_files()}
    assert {"deliveries/sftp.py", "routes/services.py", "flisportal/front/health.py"} <= files
    assert not any("/migrations/" in name for name in files)


def _function_source(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(body_lines - 1))
    return f"{indent}def {name}() -> None:\n{body}"


def test_a_long_function_is_found() -> None:
    limit_source = _function_source("at_limit", MAX_LINES)
    over_source = _function_source("over", MAX_LINES + 1)
    assert long_functions(limit_source, "m.py") == {}
    assert long_functions(over_source, "m.py") == {"m.py::over": MAX_LINES + 1}


def test_methods_nested_and_guarded_functions_are_found_by_their_dotted_names() -> None:
    source = (
        "class Sweep:\n"
        + _function_source("run", MAX_LINES + 1, indent="    ")
        + "def outer() -> None:\n"
        + _function_source("inner", MAX_LINES + 1, indent="    ")
        + "if True:\n"
        + _function_source("guarded", MAX_LINES + 1, indent="    ").replace("def", "async def")
    )
    found = long_functions(source, "m.py")
    assert found == {
        "m.py::Sweep.run": MAX_LINES + 1,
        "m.py::outer": MAX_LINES + 2,  # its own line and the inner function's
        "m.py::outer.inner": MAX_LINES + 1,
        "m.py::guarded": MAX_LINES + 1,
    }
