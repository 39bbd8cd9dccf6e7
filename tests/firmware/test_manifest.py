"""firmware/manifest.py (for freezing into a MicroPython image) names every
application module, and only files that exist."""
from .conftest import FW, SRC


def test_manifest_covers_all_modules():
    frozen = set()

    def include(path):
        assert path == "$(PORT_DIR)/boards/manifest.py"

    def package(name, base_path="."):
        pkg = FW / base_path / name
        assert (pkg / "__init__.py").is_file(), pkg
        frozen.update(p.relative_to(FW / base_path).as_posix() for p in pkg.rglob("*.py"))

    def module(name, base_path="."):
        assert (FW / base_path / name).is_file(), name
        frozen.add(name)

    exec((FW / "manifest.py").read_text(), {"include": include, "package": package, "module": module})
    app = {p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")} - {"boot.py", "main.py"}
    assert app == frozen, "not frozen: %s; unknown: %s" % (app - frozen, frozen - app)
