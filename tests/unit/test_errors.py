"""Every exception the project defines takes its place under one root of ``classxpm.errors``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import classxpm
from classxpm import errors

ROOTS = (
    errors.Fatal,
    errors.Retriable,
    errors.RecordRefused,
    errors.NotAuthorised,
    errors.Reauthorise,
    errors.QuotaSpent,
)


def _defined_exceptions() -> list[type[BaseException]]:
    found = []
    for module_info in pkgutil.walk_packages(classxpm.__path__, "classxpm."):
        if ".migrations." in module_info.name:  # alembic scripts run only inside alembic
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_exception_in_the_package_derives_from_a_root():
    from classxpm.xpm.errors import XpmError

    bases = {errors.ClassXpmError, XpmError}  # groupings above the roots, never raised themselves
    defined = _defined_exceptions()

    outside = [kind.__qualname__ for kind in defined if not issubclass(kind, ROOTS) and kind not in bases]

    assert len(defined) > 30, "the walk found the package's exceptions"
    assert outside == []


def test_the_seeds_states_are_what_the_xpm_client_raises():
    from classxpm.xpm import errors as xpm

    assert issubclass(xpm.Reauthorise, errors.Reauthorise)
    assert issubclass(xpm.NotAuthorised, errors.NotAuthorised)
    assert issubclass(xpm.Deferred, errors.QuotaSpent)
    assert str(xpm.Reauthorise("invalid_grant")) == errors.REAUTHORISE_MESSAGE
    assert str(xpm.NotAuthorised()) == errors.NOT_AUTHORISED_MESSAGE
