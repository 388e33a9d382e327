"""Finding apps: ``path/file.py[:app]`` or ``package.module[:app]``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from durablex.app import App


class TargetError(Exception):
    """A target that names no app; the message says what was looked for."""


def _load_module(spec_text: str) -> ModuleType:
    path = Path(spec_text)
    if spec_text.endswith(".py") or path.is_file():
        if not path.is_file():
            raise TargetError(f"no such file: {spec_text!r}")
        resolved = path.resolve()
        folder = str(resolved.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        name = resolved.stem
        existing = sys.modules.get(name)
        if existing is not None and getattr(existing, "__file__", None) == str(resolved):
            return existing
        spec = importlib.util.spec_from_file_location(name, resolved)
        if spec is None or spec.loader is None:
            raise TargetError(f"cannot import {spec_text!r} as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        return importlib.import_module(spec_text)
    except ModuleNotFoundError as exc:
        raise TargetError(
            f"cannot import {spec_text!r} ({exc}); give a file path (app.py) or a module name "
            "importable from the current directory"
        ) from exc


def load_apps(target: str) -> list[App]:
    """The apps a target names: the one after ``:``, else every App in the module."""
    module_part, _, attr = target.partition(":")
    if not module_part:
        raise TargetError(f"invalid target {target!r}: expected path/file.py[:app] or module[:app]")
    module = _load_module(module_part)
    if attr:
        value = getattr(module, attr, None)
        if not isinstance(value, App):
            raise TargetError(
                f"{module_part!r} has no durablex.App named {attr!r} "
                f"(found: {', '.join(_app_names(module)) or 'none'})"
            )
        return [value]
    apps = [value for value in vars(module).values() if isinstance(value, App)]
    if not apps:
        raise TargetError(f"{module_part!r} defines no durablex.App")
    unique: dict[int, App] = {id(app): app for app in apps}
    return list(unique.values())


def _app_names(module: ModuleType) -> list[str]:
    return [name for name, value in vars(module).items() if isinstance(value, App)]
