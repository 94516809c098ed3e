"""The house: layers that import in one direction, no import cycle (imports inside functions counted), modules of
a readable size, and a core that works without the optional extras or ``fcntl``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seqgan"
# Lower layers never import higher ones. The base modules sit below everything.
LAYERS = {"base": 0, "models": 1, "data": 2, "eval": 3, "train": 4, "tools": 5, "cli": 6, "api": 7}
BASE = {"errors", "config", "presets", "files", "env", "version", "extras", "kernels"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return LAYERS["api"]  # seqgan/__init__ re-exports, __main__ runs the CLI
    return LAYERS["base"] if parts[1] in BASE else LAYERS[parts[1]]


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every seqgan module ``path`` imports, anywhere in the file (functions too), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("seqgan")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seqgan"):
            for alias in node.names:  # `from seqgan.train import distributed` imports a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return {m for m in found if m in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_layers_import_downward_only() -> None:
    wrong = [
        f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
        for a, deps in _graph().items()
        for b in deps
        if _layer(b) > _layer(a)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    """The two tests above would fail on a package with a cycle through a function-level import."""
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from seqgan.cli import main\n")
    modules = _modules()
    assert _imports(a, modules) == {"seqgan.cli"}
    assert _layer("seqgan.train.trainer") < _layer("seqgan.cli")
    b = tmp_path / "b.py"
    b.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from seqgan.cli import main\n")
    assert _imports(b, modules) == set()


def test_modules_stay_readable() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    too_long = {name: n for name, n in sizes.items() if n > 600}
    assert sizes["seqgan.train.trainer"] <= 320, "trainer.py holds Algorithm 1 alone: move the rest to its modules"
    assert not too_long, too_long


def test_every_module_is_named_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and p.name not in readme
    ]
    assert not missing, missing


def _run_without(blocked: list[str], code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where importing any of ``blocked`` fails, as if not installed."""
    prelude = f"import sys\nfor m in {blocked!r}:\n    sys.modules[m] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_import_seqgan_without_fcntl(tmp_path: Path) -> None:
    """Windows has no fcntl: the package imports and trains (the run directory is then not locked)."""
    code = (
        "import seqgan\ncfg = seqgan.presets.get('tiny')\ncfg.run.progress = False\n"
        "seqgan.SeqGANTrainer(cfg, 'run').fit()\nprint(seqgan.load_run('run').sample(2))"
    )
    done = _run_without(["fcntl"], code, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize("blocked", [["matplotlib", "mido", "scipy", "pysbd", "tokenizers", "tensorboard"]])
def test_core_commands_without_the_extras(tmp_path: Path, blocked: list[str]) -> None:
    """`pip install .` with no extras: prepare, train, sample, eval and bleu work; a command that needs an extra says
    which one in one line with exit code 2."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"a b c {w} d\n" for w in "pqrstuvwxyz" * 6))
    steps = [
        ["prepare", str(corpus), "--out", "data"],
        ["train", "--preset", "tiny", "--data", "data", "--out-dir", "run", "--no-progress"],
        ["sample", "run", "--num-samples", "3", "--out", "s.txt"],
        ["eval", "run", "--num-samples", "20", "--json"],
        ["bleu", "--hyps", "s.txt", "--refs", str(corpus), "--json"],
    ]
    code = "from seqgan.cli import main\nimport sys\nsys.exit(main(sys.argv[1:]))"
    for argv in steps:
        done = subprocess.run(
            [sys.executable, "-c", f"import sys\nfor m in {blocked!r}:\n    sys.modules[m] = None\n" + code, *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (argv, done.stderr[-2000:])
    needs = {
        "plot": ["plot", "run"],
        "music": ["prepare-midi", str(tmp_path), "--out", "m"],
        "sentences": ["prepare", str(corpus), "--out", "s", "--unit", "sentence"],
        "subword": ["prepare", str(corpus), "--out", "b", "--level", "bpe", "--vocab-size", "40"],
        "tensorboard": ["tensorboard", "run"],
    }
    for extra, argv in needs.items():
        done = subprocess.run(
            [sys.executable, "-c", f"import sys\nfor m in {blocked!r}:\n    sys.modules[m] = None\n" + code, *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert f"pip install 'seqgan[{extra}]'" in done.stderr
