"""iqlib: inverse soft-Q learning (IQ-Learn) and implicit Q-learning (IQL) in JAX.

The library holds the algorithms; the notebooks in ``notebooks/`` explain and run them.
"""

__version__ = "0.1.0"
