"""The floor every learner stands on; imports nothing else from iqlib.

transitions (the Transitions type and its checks), nets (Flax NNX networks, densities, train
state, Polyak targets), training (compiled ``lax.scan`` chunks), replay (the one replay buffer),
envs (gymnasium environments in [-1, 1] and lockstep evaluation), normalization (observation
standardisation folded into a first layer), sharding (the seed axis split over the local devices),
compile_cache (JAX's persistent compilation cache, on by default).
"""
