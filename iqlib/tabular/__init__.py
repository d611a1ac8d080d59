"""Tabular (finite S × A) max-entropy RL, imitation and offline RL, exact where a table allows.

mdp (TabularMDP), soft_bellman (operators, exact solvers), sampling (episodes, counts),
iq_learn (copyable IQ-Learn core: config, objective, one L-BFGS update), iq_learn_fit (the full
solve), bc, anchor (anchor-action reward normalisation), mle (structural NFXP MLE), lbfgs,
recovery and counterfactual (checks against a known truth), metrics (policy TV, reward
correlations), dataset (tables of a transitions dataset), iql (tabular IQL, one-step AWR),
expectile, q_learning (offline Q-learning with the max backup: the overestimation trap), projection
(rewards projected onto a basis; state-only rewards with shaping removed), checks (argument checks:
discount, temperature, τ, indices, samples).
"""
