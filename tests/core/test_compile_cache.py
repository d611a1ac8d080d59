"""JAX's persistent compilation cache: settings, and a second process reading what the first wrote."""

import os
import subprocess
import sys

from iqlib.core.compile_cache import cache_settings, default_cache_dir

SCRIPT = """
import jax, jax.numpy as jnp
from jax._src import monitoring
hits = []
monitoring.register_event_listener(lambda name, **kw: hits.append(name) if "cache_hits" in name else None)
print(float(jax.jit(lambda x: jnp.tanh(x) @ x.T)(jnp.ones((33, 7))).sum()))
print("HITS", len(hits))
"""


def test_settings_keep_what_is_set_default_per_user_and_switch_off(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert cache_settings(env) == {"JAX_COMPILATION_CACHE_DIR": str(tmp_path / "iqlib" / "jax"),
                                   "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                                   "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    mine = {"JAX_COMPILATION_CACHE_DIR": "/somewhere", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "2"}
    assert cache_settings(mine)["JAX_COMPILATION_CACHE_DIR"] == "/somewhere"
    assert cache_settings(mine)["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "2"
    assert cache_settings({"IQLIB_COMPILATION_CACHE": "0", **mine}) == {}
    assert default_cache_dir({}).parts[-2:] == ("iqlib", "jax")


def test_a_second_process_reads_the_compiled_function_from_the_cache(tmp_path):
    env = {**os.environ, **cache_settings({"JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache")})}

    def run():
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
        value, hits = out.stdout.split()[0], int(out.stdout.split("HITS")[1])
        return value, hits

    first_value, first_hits = run()
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert any(name.startswith("jit__lambda") for name in entries), entries
    second_value, second_hits = run()
    assert second_value == first_value
    assert first_hits == 0 and second_hits >= 1
