"""Neural learners. Copyable cores (config, losses, one pure ``update(state, batch)``, importing
only :mod:`iqlib.core.nets`): iql, iq_learn_offline, iq_learn_online. Their drivers: iql_train,
iq_learn_offline_train, iq_learn_online_train, with offline (the chunked offline driver) and
online (the one online loop). Also bc, iql_finetune, iq_learn_lfo (with its driver iq_learn_lfo_train
and lfo_diagnostics), sac and dqn (the experts), offline_dqn (the max backup on a fixed dataset: the
overestimation IQL avoids), acting (the act heads)."""
