"""The Jupyter kernel our notebook runs use: this interpreter, an encrypted channel, a headless env.

* :func:`ensure_kernel` finds (or installs into ``sys.prefix``, never globally) a kernelspec
  whose ``argv[0]`` is ``sys.executable``.
* :class:`EncryptedKernelManager` starts kernels with CurveZMQ keys provisioned by the
  manager (``transport_encryption="auto"``), so the kernel's own warning "Kernel is running
  over TCP without encryption" (ipykernel's ``IPKernelApp.init_sockets``) has no cause: the
  traffic between papermill and the kernel is encrypted rather than the warning hidden. A
  pyzmq built without libsodium has no CurveZMQ; the manager then uses the ``ipc``
  transport (Unix sockets, which never leave the machine). A kernelspec that does not
  declare ``"supported_encryption": ["curve"]`` still runs over plain TCP, and ipykernel's
  warning then says so truthfully.
* :func:`execution_env` gives executions ``MPLBACKEND=Agg`` and this package's root on
  ``PYTHONPATH``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import sys
from typing import Iterator

import zmq
from ipykernel.kernelspec import install
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from iqlib.core.compile_cache import cache_settings

__all__ = ["REPO_ROOT", "ensure_kernel", "EncryptedKernelManager", "execution_env"]

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def ensure_kernel() -> str:
    """Name of a Jupyter kernel that runs ``sys.executable``; install one if needed.

    An existing kernelspec counts only if its ``argv[0]`` is this exact interpreter path
    (a venv's python is a symlink to the base python, so paths are not resolved). Otherwise
    a kernelspec is installed into ``sys.prefix`` under the name ``iqlib`` (or a name
    derived from ``sys.prefix`` if another ``iqlib`` kernel shadows it).

    Raises ``RuntimeError`` if no kernelspec for this interpreter can be registered.
    """
    def matching(manager: KernelSpecManager) -> str | None:
        specs = manager.find_kernel_specs()
        # Prefer the conventional names so repeated runs pick the same kernel.
        for name in sorted(specs, key=lambda n: (n not in ("python3", "iqlib"), n)):
            try:
                argv = manager.get_kernel_spec(name).argv
            except Exception:  # a broken kernelspec elsewhere must not stop us
                continue
            if argv and os.path.abspath(argv[0]) == os.path.abspath(sys.executable):
                return name
        return None

    name = matching(KernelSpecManager())
    if name is not None:
        return name

    tag = hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]
    for candidate in ("iqlib", f"iqlib-{tag}"):
        install(prefix=sys.prefix, kernel_name=candidate, display_name=f"Python ({candidate})")
        manager = KernelSpecManager()
        if manager.get_kernel_spec(candidate).argv[0] == sys.executable:
            return candidate
    raise RuntimeError(f"could not register a Jupyter kernel for {sys.executable}")


class EncryptedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels talk over CurveZMQ (or ``ipc`` without CurveZMQ).

    Pass it to ``papermill.execute_notebook(..., kernel_manager_class=EncryptedKernelManager)``.
    """

    @default("transport_encryption")
    def _default_transport_encryption(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"

    @default("transport")
    def _default_transport(self) -> str:
        return "tcp" if zmq.has("curve") else "ipc"


@contextlib.contextmanager
def execution_env() -> Iterator[None]:
    """Environment for kernels: headless matplotlib, this iqlib importable, and JAX's persistent
    compilation cache (``iqlib.core.compile_cache``); restored after."""
    cache = cache_settings()
    saved = {key: os.environ.get(key) for key in ("MPLBACKEND", "PYTHONPATH", *cache)}
    os.environ.update(cache)
    os.environ["MPLBACKEND"] = "Agg"
    pythonpath = [str(REPO_ROOT)] + [p for p in (saved["PYTHONPATH"] or "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(pythonpath))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
