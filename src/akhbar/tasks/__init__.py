"""The tasks akhbar trains, evaluates and serves: one module per task, each a :class:`~.base.Task`.

A task module defines a :class:`~.base.Task` subclass and decorates it with :func:`register`; every module
of this package but :mod:`.base` is imported the first time a task is looked up, so a new task is one new
module and nothing else changes. The config's ``task`` string and a package's ``akhbar.json`` name the task;
everything that differs between tasks is asked of it. Importing a task module imports no torch: its
training pieces load when training asks for them, so rendering a model card or a report stays light.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Predictor, Split, Task

__all__ = ["Predictor", "Split", "Task", "get_task", "register", "task_names", "tasks"]

_REGISTRY: dict[str, Task] = {}
_HELPERS = {"base"}  # modules of this package that are not tasks
_LOADED = False  # every task module imported


def register(task: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its name."""
    _REGISTRY[task.name] = task()
    return task


def tasks() -> dict[str, Task]:
    """Every registered task by name (importing the task modules once), in the order of their names."""
    global _LOADED
    if not _LOADED:  # not "if not _REGISTRY": importing one task module first (tasks.ner) registers only it
        for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if module.name not in _HELPERS:
                importlib.import_module(f"{__name__}.{module.name}")
        _LOADED = True
        # A task module that imports another (arguments builds on ner) registers that one first: sort by name.
        ordered = sorted(_REGISTRY.items())
        _REGISTRY.clear()
        _REGISTRY.update(ordered)
    return _REGISTRY


def task_names() -> list[str]:
    return list(tasks())


def get_task(name: str) -> Task:
    """The task called ``name``.

    Raises:
        ValueError: no such task; names the known ones.
    """
    table = tasks()
    if name not in table:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(table)}")
    return table[name]
