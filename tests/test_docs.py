"""The documentation stays honest: every relative link in README.md and docs/ leads to a file,
the docs index links every page, the docs/ paths named in pyproject.toml and the contracts exist,
every setting the portal reads from the environment is listed in the operations settings page
and in .env.example, and the error-code table in the protocol page matches the code.

Plain file reads and `ast`: no database, no network.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from deliveries.serviceplatform.errors import PlatformError

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "flisportal" / "settings.py"
ENV_HELPERS = ROOT / "flisportal" / "lib" / "env.py"
SETTINGS_DOC = ROOT / "docs" / "operations" / "settings.md"
ENV_EXAMPLE = ROOT / ".env.example"
PROTOCOL_DOC = ROOT / "docs" / "design" / "protocol.md"

MARKDOWN_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Fenced code blocks and inline code: a `[x](y)` inside them is code, not a link.
_FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
# [text](target) and ![alt](target), with an optional "title" or <target>.
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)"
)
# [label]: target
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, …
# docs/… as written in prose or a comment; a sentence's final dot is not part of it.
_DOCS_PATH = re.compile(r"(?<![\w./-])docs/[\w./-]*[\w/-]")
_ERROR_ROW = re.compile(r"^\| (\d{3}) \| `(\w+)` \| (.+?) \| (.+?) \|$", re.MULTILINE)


def link_targets(markdown: str) -> list[str]:
    text = _FENCED.sub("", markdown)
    text = _INLINE_CODE.sub("", text)
    targets = _INLINE_LINK.findall(text) + _REFERENCE_LINK.findall(text)
    return [target.strip("<>") for target in targets]


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in link_targets(path.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target) or target.startswith("#"):
            continue
        file_part = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not (path.parent / file_part).exists():
            broken.append(target)
    return broken


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_a_file(path: Path) -> None:
    assert broken_links(path) == [], f"{path.relative_to(ROOT)} links to files that do not exist"


def test_the_docs_index_links_every_page() -> None:
    index = ROOT / "docs" / "README.md"
    linked = {
        (index.parent / target.split("#", 1)[0]).resolve()
        for target in link_targets(index.read_text(encoding="utf-8"))
        if not _EXTERNAL.match(target) and not target.startswith("#")
    }
    pages = {path.resolve() for path in MARKDOWN_FILES if path.is_relative_to(index.parent)}
    unlisted = sorted(str(p.relative_to(ROOT)) for p in pages - linked - {index.resolve()})
    assert unlisted == [], "docs/README.md does not link these pages"


def test_the_link_check_sees_links_and_ignores_what_is_not_one(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("x", encoding="utf-8")
    page.write_text(
        "[ok](there.md) [ok too](there.md#part) ![pic](gone.png) [no](nowhere.md#a)\n"
        "[web](https://example.org/x) [mail](mailto:a@example.org) [here](#anchor)\n"
        "`[code](not-a-link.md)`\n```\n[fenced](not-a-link-either.md)\n```\n"
        "[ref]: missing/ref.md\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["gone.png", "nowhere.md#a", "missing/ref.md"]


def docs_paths_named_in(path: Path) -> list[str]:
    return _DOCS_PATH.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "path",
    [ROOT / "pyproject.toml", *sorted((ROOT / "deliveries" / "contracts").glob("*.json"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_docs_paths_named_in_project_files_exist(path: Path) -> None:
    missing = [name for name in docs_paths_named_in(path) if not (ROOT / name).exists()]
    assert missing == [], f"{path.relative_to(ROOT)} names docs paths that do not exist"


def env_helper_names() -> set[str]:
    """The public readers in flisportal/lib/env.py: functions whose first parameter is the name."""
    tree = ast.parse(ENV_HELPERS.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("_")
        and node.args.args
        and node.args.args[0].arg == "name"
    }


def _is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _name_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in ("name", "key")), None)


def settings_read_from_environment(source: str, helpers: set[str]) -> set[str]:
    """Variable names that `source` reads through the helpers, os.environ or os.getenv."""
    names: set[str] = set()
    unreadable: list[str] = []
    for node in ast.walk(ast.parse(source)):
        argument: ast.expr | None = None
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            reads_env = (
                called in helpers
                or (called == "getenv" and isinstance(func, ast.Attribute))
                or (
                    called == "get"
                    and isinstance(func, ast.Attribute)
                    and _is_os_environ(func.value)
                )
            )
            if reads_env:
                argument = _name_argument(node)
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            argument = node.slice
        else:
            continue
        if argument is None:
            continue
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
        else:
            unreadable.append(ast.unparse(node))
    assert unreadable == [], f"environment reads whose name is not a plain string: {unreadable}"
    return names


def settings_in_doc() -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", SETTINGS_DOC.read_text(encoding="utf-8")))


def settings_in_env_example() -> set[str]:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_every_setting_is_documented_and_in_env_example() -> None:
    read = settings_read_from_environment(SETTINGS.read_text(encoding="utf-8"), env_helper_names())
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= read  # the parser works
    assert sorted(read - settings_in_doc()) == [], f"missing from {SETTINGS_DOC.relative_to(ROOT)}"
    assert sorted(read - settings_in_env_example()) == [], "missing from .env.example"


def test_the_settings_parser_finds_every_way_of_reading_the_environment() -> None:
    source = (
        "import os\n"
        "from flisportal.env import env_int\n"
        "A = env_int('A_SECONDS', 5, minimum=1)\n"
        "B = os.environ.get('B_FLAG', '')\n"
        "C = os.getenv('C_PATH')\n"
        "D = os.environ['D_URL']\n"
        "E = env_int(name='E_COUNT', default=1)\n"
        "F = {'x': 1}.get('NOT_AN_ENV_VAR')\n"
    )
    assert settings_read_from_environment(source, {"env_int"}) == {
        "A_SECONDS",
        "B_FLAG",
        "C_PATH",
        "D_URL",
        "E_COUNT",
    }


def test_protocol_page_lists_every_error_code_as_in_the_code() -> None:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    rows = {
        int(code): (name, danish, english)
        for code, name, danish, english in _ERROR_ROW.findall(text)
    }
    assert rows == {e.code: (e.name, e.danish, e.english) for e in PlatformError}
