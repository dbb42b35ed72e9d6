"""file_list and file_search on real folders: .gitignore and ignored folders, links pointing outside,
binary files, limits, and the same answer from ripgrep, git grep and the pure-Python scan."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from workspaces import gitignore
from workspaces.paths import PathRefused
from workspaces.services import SearchRefused, file_list, file_search
from workspaces.services.search import (
    MAX_LINE_CHARS,
    file_list_in,
    file_search_in,
    search_engine_default,
)

HAS_RG = shutil.which("rg") is not None
ENGINES = [
    "python",
    "git",
    pytest.param("ripgrep", marks=pytest.mark.skipif(not HAS_RG, reason="ripgrep is not installed")),
]

FILES = {
    "index.html": "<main>\n<h1>Acme foo</h1>\n</main>\n",
    "src/app.py": "def foo():\n    return 'foo'\n",
    "src/util/helpers.js": "const foo = 1;\nconst bar = 2;\n",
    ".gitignore": "build/\n*.log\n!keep.log\n/secret.txt\n",
    "build/out.js": "foo in a build",
    "debug.log": "foo in a log",
    "keep.log": "foo kept",
    "secret.txt": "foo top secret",
    "docs/secret.txt": "foo in docs",
    "node_modules/pkg/index.js": "foo in a dependency",
    ".github/workflows/ci.yml": "run: foo\n",
    "long.txt": "x" * 600 + " foo " + "y" * 600 + "\n",
}
EXPECTED_FOO = [
    (".github/workflows/ci.yml", 1),
    ("docs/secret.txt", 1),
    ("index.html", 2),
    ("keep.log", 1),
    ("long.txt", 1),
    ("src/app.py", 1),
    ("src/app.py", 2),
    ("src/util/helpers.js", 1),
]


def git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def outside(tmp_path_factory):
    # Outside every workspace root: what a link may point at but a search must never show.
    folder = tmp_path_factory.mktemp("foo_elsewhere", numbered=True)  # a link's own text says foo too
    (folder / "secret.txt").write_text("foo from outside the workspace\n")
    return folder


@pytest.fixture
def tree(tmp_path, outside):
    root = tmp_path / "site"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00foo\x00")
    os.symlink(outside / "secret.txt", root / "link_out.txt")
    os.symlink(outside, root / "linked_dir")
    git(root, "init", "-q")
    git(root, "add", "index.html", "src", ".gitignore", "link_out.txt", "linked_dir")  # the rest untracked
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "start")
    return root


def found(result):
    return [(m.path, m.line) for m in result.matches]


@pytest.mark.parametrize("engine", ENGINES)
def test_search_finds_lines_with_numbers_and_skips_what_it_must(engine, tree):
    result = file_search_in(root=str(tree), query="foo", engine=engine)
    assert result.engine == engine
    # not: .gitignore'd files, node_modules, the binary logo, the links pointing outside
    assert found(result) == EXPECTED_FOO
    assert not result.truncated
    by_path = {m.path: m.text for m in result.matches}
    assert by_path["index.html"] == "<h1>Acme foo</h1>"
    assert "outside" not in result.as_text() and "elsewhere" not in result.as_text()


@pytest.mark.parametrize("engine", ENGINES)
def test_regex_and_case_options(engine, tree):
    result = file_search_in(root=str(tree), query=r"def \w+\(", regex=True, engine=engine)
    assert found(result) == [("src/app.py", 1)]
    assert found(file_search_in(root=str(tree), query="ACME", engine=engine)) == []
    assert found(file_search_in(root=str(tree), query="ACME", ignore_case=True, engine=engine)) == [("index.html", 2)]
    # plain text is plain: regex characters are not special
    assert found(file_search_in(root=str(tree), query="foo()", engine=engine)) == [("src/app.py", 1)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sub_folder_or_one_file_can_be_searched(engine, tree):
    assert found(file_search_in(root=str(tree), query="foo", path="src", engine=engine)) == [
        ("src/app.py", 1),
        ("src/app.py", 2),
        ("src/util/helpers.js", 1),
    ]
    assert found(file_search_in(root=str(tree), query="foo", path="src/app.py", engine=engine)) == [
        ("src/app.py", 1),
        ("src/app.py", 2),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_file_filter_keeps_only_the_files_it_matches_and_never_unignores(engine, tree):
    def files(glob):
        return sorted({m.path for m in file_search_in(root=str(tree), query="foo", glob=glob, engine=engine).matches})

    assert files("*.py") == ["src/app.py"]
    assert files("src/util") == ["src/util/helpers.js"]
    assert files("src/**/*.js") == ["src/util/helpers.js"]
    assert files("*.log") == ["keep.log"]  # debug.log stays ignored
    assert files("*.md") == []


def test_a_bad_file_filter_is_refused(tree):
    for glob in ("!*.py", "a\nb", "x" * 201):
        with pytest.raises(SearchRefused, match="file filter"):
            file_search_in(root=str(tree), query="foo", glob=glob)


@pytest.mark.parametrize("engine", ENGINES)
def test_results_are_capped_and_say_so(engine, tree):
    (tree / "many.txt").write_text("".join(f"foo {i}\n" for i in range(150)))
    result = file_search_in(root=str(tree), query="foo", limit=20, engine=engine)
    assert len(result.matches) == 20 and result.truncated
    assert "results cut" in result.as_text()


def test_a_search_out_of_time_stops_and_says_so(tree):
    result = file_search_in(root=str(tree), query="foo", engine="python", timeout=0)
    assert result.truncated and result.matches == []
    assert "the search stopped after 0 s" in result.note and "the search stopped" in result.as_text()


@pytest.mark.parametrize("engine", ENGINES[1:])
def test_a_program_killed_for_time_is_reported_only_when_it_was_cut(engine, tree):
    # The program may finish before the timer kills it: then the answer is whole and says nothing.
    for _ in range(5):
        result = file_search_in(root=str(tree), query="foo", engine=engine, timeout=0)
        if result.truncated:
            assert "the search stopped after 0 s" in result.note
            assert len(result.matches) <= len(EXPECTED_FOO)
        else:
            assert found(result) == EXPECTED_FOO and result.note == ""


@pytest.mark.parametrize("engine", ENGINES)
def test_long_lines_are_shortened_around_the_match(engine, tree):
    [match] = [m for m in file_search_in(root=str(tree), query="foo", engine=engine).matches if m.path == "long.txt"]
    assert " foo " in match.text
    assert len(match.text) <= MAX_LINE_CHARS + 2 and match.text.startswith("…") and match.text.endswith("…")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("query", "message"),
    [("(unclosed", "not a valid regular expression: missing ), unterminated subpattern at position 0"), ("", "Give")],
)
def test_a_bad_pattern_is_a_clear_error_before_any_engine_runs(engine, query, message, tree):
    with pytest.raises(SearchRefused) as caught:
        file_search_in(root=str(tree), query=query, regex=True, engine=engine)
    assert message in str(caught.value)


@pytest.mark.skipif(not HAS_RG, reason="ripgrep is not installed")
def test_a_pattern_ripgrep_cannot_run_falls_back_to_python_and_says_so(tree):
    result = file_search_in(root=str(tree), query=r"(?<=const )foo", regex=True, engine="ripgrep")
    assert result.engine == "python"
    assert "ripgrep could not use this pattern" in result.note
    assert found(result) == [("src/util/helpers.js", 1)]


@pytest.mark.parametrize("path", ["../", "/etc", "link_out.txt", "linked_dir", "linked_dir/secret.txt"])
def test_paths_outside_the_folder_are_refused(path, tree):
    with pytest.raises(PathRefused):
        file_search_in(root=str(tree), query="foo", path=path, engine="python")
    with pytest.raises(PathRefused):
        file_list_in(root=str(tree), path=path)


def test_a_missing_path_is_a_clear_error(tree):
    with pytest.raises(SearchRefused, match="no file or folder 'nope'"):
        file_search_in(root=str(tree), query="foo", path="nope")


def test_git_engine_outside_a_repository_is_refused(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.txt").write_text("foo\n")
    with pytest.raises(SearchRefused, match="not in a git repository"):
        file_search_in(root=str(tmp_path / "plain"), query="foo", engine="git")
    assert found(file_search_in(root=str(tmp_path / "plain"), query="foo", engine="python")) == [("a.txt", 1)]


def test_the_default_engine_is_the_fastest_available(tree, tmp_path):
    assert search_engine_default(str(tree)) == ("ripgrep" if HAS_RG else "git")
    assert file_search_in(root=str(tree), query="foo").engine == search_engine_default(str(tree))


def test_file_list_is_a_bounded_tree_that_respects_the_ignore_rules(tree):
    listing = file_list_in(root=str(tree))
    paths_ = [e.path for e in listing.entries]
    assert sorted(paths_) == sorted(
        [
            ".github",
            ".github/workflows",
            ".github/workflows/ci.yml",
            ".gitignore",
            "docs",
            "docs/secret.txt",
            "index.html",
            "keep.log",
            "link_out.txt",
            "linked_dir",
            "logo.png",
            "long.txt",
            "src",
            "src/app.py",
            "src/util",
            "src/util/helpers.js",
        ]
    )
    kinds = {e.path: e.kind for e in listing.entries}
    assert kinds["linked_dir"] == "link" and kinds["link_out.txt"] == "link" and kinds["src"] == "dir"
    assert listing.not_listed == [".git", "node_modules"] and not listing.truncated
    text = listing.as_text()
    assert "src/\n" in text and "index.html (33 B)" in text
    assert "linked_dir (symbolic link, not followed)" in text
    assert "[not listed (ignored folders): .git/, node_modules/]" in text
    assert "outside" not in text


def test_file_list_is_breadth_first_and_says_when_it_was_cut(tree):
    listing = file_list_in(root=str(tree), limit=5)
    assert len(listing.entries) == 5 and listing.truncated
    assert all("/" not in e.path for e in listing.entries)  # the top level before anything deeper
    assert "[listing cut at 5 entries; list a sub-folder to see the rest" in listing.as_text()
    sub = file_list_in(root=str(tree), path="src")
    assert [e.path for e in sub.entries] == ["src/app.py", "src/util", "src/util/helpers.js"]


def test_file_list_of_a_file_is_refused(tree):
    with pytest.raises(SearchRefused, match="is a file, not a folder"):
        file_list_in(root=str(tree), path="index.html")


def test_rules_of_a_nested_gitignore_apply_below_it(tree):
    (tree / "src" / ".gitignore").write_text("*.js\n")
    assert "src/util/helpers.js" not in [e.path for e in file_list_in(root=str(tree)).entries]
    assert "src/util/helpers.js" not in [
        m.path for m in file_search_in(root=str(tree), query="foo", engine="python").matches
    ]
    # and from a sub-folder, the outer .gitignore still applies
    (tree / "src" / "x.log").write_text("foo\n")
    assert "src/x.log" not in [e.path for e in file_list_in(root=str(tree), path="src").entries]


@pytest.mark.parametrize(
    ("rules", "path", "is_folder", "ignored"),
    [
        ("*.log\n!keep.log", "a/b/debug.log", False, True),
        ("*.log\n!keep.log", "keep.log", False, False),
        ("build/", "build", True, True),
        ("build/", "build", False, False),
        ("/secret.txt", "docs/secret.txt", False, False),
        ("/secret.txt", "secret.txt", False, True),
        ("docs/**/draft.md", "docs/a/b/draft.md", False, True),
        ("docs/**/draft.md", "docs/draft.md", False, True),
        ("**/tmp", "a/tmp", True, True),
        ("file[0-9].txt", "file7.txt", False, True),
        ("file[!0-9].txt", "file7.txt", False, False),
        ("# comment\n\n\\#hash", "#hash", False, True),
        ("a?c", "a/c", False, False),
    ],
)
def test_gitignore_rules(rules, path, is_folder, ignored):
    assert gitignore.is_ignored(gitignore.rules_parse(rules), path, is_folder=is_folder) is ignored


def test_the_services_search_a_workspace_folder(workspace):
    root = workspace.path
    with open(os.path.join(root, "page.html"), "w") as handle:
        handle.write("<p>pricing</p>\n")
    assert [(m.path, m.line) for m in file_search(workspace=workspace, query="pricing").matches] == [("page.html", 1)]
    assert "page.html" in [e.path for e in file_list(workspace=workspace).entries]


def test_the_tool_schemas_name_the_services_own_arguments(workspace):
    import inspect

    from workspaces.services.search import FILE_LIST_PARAMETERS, FILE_SEARCH_PARAMETERS

    assert set(FILE_SEARCH_PARAMETERS["properties"]) <= set(inspect.signature(file_search).parameters)
    assert set(FILE_LIST_PARAMETERS["properties"]) <= set(inspect.signature(file_list).parameters)
    # a model's arguments, as the schema allows them, go straight through
    with open(os.path.join(workspace.path, "a.py"), "w") as handle:
        handle.write("x = 1\n")
    arguments = {"query": "X = 1", "ignore_case": True, "glob": "*.py", "path": "", "regex": False}
    assert [m.path for m in file_search(workspace=workspace, **arguments).matches] == ["a.py"]
