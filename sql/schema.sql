-- Results of the HAN-ROCK studies.  The platform applies this file (and views.sql) to
-- $HANROCK_HOME/results.duckdb itself; every statement is idempotent.
--
-- A study's rows carry its identity: a fingerprint of what its trials were trained on (profile,
-- narratives, auxiliary targets, data, code; hanrock_core/study/study_identity.py).  The all_* tables
-- keep the rows of every identity; the views `trials`, `epochs` and `predictions` (views.sql)
-- show those of each partition's current identity, the one its latest run wrote, and every
-- paper view reads them.  `superseded_studies` lists the others.

CREATE TABLE IF NOT EXISTS study_identities (   -- one row per partition and identity it was trained on
    hypothesis  VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL,
    identity    VARCHAR NOT NULL,   -- 12 hex digits naming the five parts below
    profile     VARCHAR,            -- the profile's name (its content is the `profile` part)
    parts       JSON,               -- profile, narratives, targets, data, code -> fingerprint
    previous    VARCHAR,            -- the identity this one superseded when it was first written
    differs     VARCHAR,            -- which parts differ from `previous`
    recorded_at TIMESTAMP,          -- when a run last wrote this identity's rows (the latest is current)
    PRIMARY KEY (hypothesis, dataset, task, identity)
);

CREATE TABLE IF NOT EXISTS all_trials (
    hypothesis      VARCHAR NOT NULL,   -- h1, h2, h3, h4
    dataset         VARCHAR NOT NULL,
    task            VARCHAR NOT NULL,   -- primary task, e.g. emotion, valence
    identity        VARCHAR NOT NULL,   -- the study identity (study_identities)
    condition       VARCHAR NOT NULL,   -- e.g. none, ap, aphf; p256; flat, han_rock
    trial           INTEGER NOT NULL,   -- the trial slot k: the same configuration in every condition
    state           VARCHAR NOT NULL,   -- complete, pruned, failed
    reason          VARCHAR,            -- why a trial failed
    metric          VARCHAR,            -- balanced_accuracy (MA(4)) or mae
    best_epoch      INTEGER,
    dev_value       DOUBLE,             -- the metric on dev at the best epoch
    test_value      DOUBLE,             -- the metric on test at that epoch
    learning_rate   DOUBLE,
    batch_size      INTEGER,
    primary_units   INTEGER,
    aux_units       INTEGER,
    l2              DOUBLE,
    content_size    INTEGER,
    dropout         DOUBLE,
    recurrent_dropout DOUBLE,
    weight_scheme   VARCHAR,            -- random, mi_linear, mi_softmax
    primary_weight  DOUBLE,
    loss_weights    JSON,               -- auxiliary task -> weight
    dev_metrics     JSON,
    test_metrics    JSON,               -- including f1_<class> for classification
    epochs_run      INTEGER,
    seconds         DOUBLE,
    attempt         INTEGER,            -- the Optuna trial number that ran the slot (a resumed slot: a later one)
    stopped         VARCHAR,            -- why training ended: epochs (the last one), patience, pruned
    PRIMARY KEY (hypothesis, dataset, task, identity, condition, trial)
);

CREATE TABLE IF NOT EXISTS all_epochs (
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, identity VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, trial INTEGER NOT NULL, epoch INTEGER NOT NULL,
    train_loss DOUBLE, dev_value DOUBLE, test_value DOUBLE,
    PRIMARY KEY (hypothesis, dataset, task, identity, condition, trial, epoch)
);

CREATE TABLE IF NOT EXISTS all_predictions (   -- test predictions of each condition's selected trial and its seeds
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, identity VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, trial INTEGER NOT NULL,
    replicate INTEGER NOT NULL,             -- 0: the selected trial itself; 1, 2, ...: its seed replicates; -1: their ensemble
    utterance_id VARCHAR NOT NULL,
    dialogue VARCHAR,                       -- the talkturn's dialogue (the paired test resamples dialogues)
    truth VARCHAR, prediction VARCHAR,
    PRIMARY KEY (hypothesis, dataset, task, identity, condition, replicate, utterance_id)
);

CREATE TABLE IF NOT EXISTS all_slot_predictions (   -- test predictions of every finished trial of a search, by slot
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, identity VARCHAR NOT NULL,
    condition VARCHAR NOT NULL,
    trial INTEGER NOT NULL,                 -- the slot: the same configuration and seed in every condition
    utterance_id VARCHAR NOT NULL,
    dialogue VARCHAR,
    truth VARCHAR, prediction VARCHAR,
    PRIMARY KEY (hypothesis, dataset, task, identity, condition, trial, utterance_id)
);

CREATE TABLE IF NOT EXISTS all_chance_levels (   -- the trivial predictor of each study's data (study_health)
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, identity VARCHAR NOT NULL,
    metric VARCHAR, dev_value DOUBLE, test_value DOUBLE,
    predictor VARCHAR,                      -- e.g. always the majority train class 'neutral'
    unseen_classes VARCHAR,                 -- classes of dev / test that train (or dev) lacks, in words
    PRIMARY KEY (hypothesis, dataset, task, identity)
);

CREATE TABLE IF NOT EXISTS all_replicates (   -- each condition's selected trial trained with further seeds
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, identity VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, trial INTEGER NOT NULL,   -- the selected trial whose configuration was retrained
    replicate INTEGER NOT NULL,             -- 1, 2, ... (the trial itself is replicate 0 in replicate_summary)
    seed BIGINT, metric VARCHAR, dev_value DOUBLE, test_value DOUBLE,
    best_epoch INTEGER, epochs_run INTEGER, stopped VARCHAR, dev_metrics JSON, test_metrics JSON,
    PRIMARY KEY (hypothesis, dataset, task, identity, condition, replicate)
);

CREATE TABLE IF NOT EXISTS all_ensembles (   -- each condition's seed ensemble: its seeds' outputs averaged
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, identity VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, trial INTEGER NOT NULL,   -- the selected trial whose seeds are averaged
    seeds INTEGER,                          -- the selected trial and its replicates
    metric VARCHAR, dev_value DOUBLE, test_value DOUBLE, dev_metrics JSON, test_metrics JSON,
    PRIMARY KEY (hypothesis, dataset, task, identity, condition)
);

CREATE TABLE IF NOT EXISTS all_auxiliary_affinity (   -- each trial's measured affinity per auxiliary target
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, identity VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, trial INTEGER NOT NULL,
    aux_task VARCHAR NOT NULL,
    weighting VARCHAR,                      -- fixed, uncertainty, gating, lookahead, auto (loss_weighting.py)
    affinity DOUBLE,                        -- mean cosine of its and the primary loss's gradients on v_aux[t]
    final_weight DOUBLE,                    -- its loss weight at the end of training (learned or gated)
    kept BOOLEAN,                           -- auto: kept after the warm-up (NULL for other weightings)
    PRIMARY KEY (hypothesis, dataset, task, identity, condition, trial, aux_task)
);

CREATE TABLE IF NOT EXISTS mutual_information (
    dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, aux_task VARCHAR NOT NULL,
    family VARCHAR, kind VARCHAR, mi DOUBLE, rows_used INTEGER, rank INTEGER,
    PRIMARY KEY (dataset, task, aux_task)
);

CREATE TABLE IF NOT EXISTS significance (   -- every comparison under both methods (docs/studies.md, Significance)
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL,
    baseline VARCHAR NOT NULL, challenger VARCHAR NOT NULL,
    method VARCHAR NOT NULL,                -- paper: appendix A.4 (resampled trials); search: every slot of both searches
                                            -- x test dialogues; paired: the selected configurations' seeds x test dialogues
    metric VARCHAR, higher_better BOOLEAN,
    baseline_value DOUBLE, challenger_value DOUBLE,   -- paper: the best-dev trial's test value; paired: the mean over seeds
    ci_low DOUBLE, ci_high DOUBLE,          -- 95% interval of challenger - baseline
    significant BOOLEAN, better BOOLEAN, resamples INTEGER,
    baseline_trials INTEGER, challenger_trials INTEGER,
    identity VARCHAR,                       -- the study identity both conditions' trials come from
    difference DOUBLE,                      -- challenger - baseline (negative MAE differences are improvements)
    p_value DOUBLE,                         -- two-sided
    detectable_effect DOUBLE,               -- paired: the smallest |difference| found 80% of the time at p < 0.05
    seeds INTEGER,                          -- paired: seeds per condition (the smaller arm; the floor is one fit)
    test_dialogues INTEGER,                 -- paired: the test dialogues it resamples
    test_talkturns INTEGER,                 -- paired: the labelled test talkturns both conditions predict
    verdict VARCHAR,                        -- search / paired: better, worse, equivalent or undecided
    margin DOUBLE,                          -- the equivalence margin (the smallest difference worth finding)
    p_equivalence DOUBLE,                   -- the larger p of the two one-sided tests against -margin and +margin
    p_seed_permutation DOUBLE,              -- the check: rows relabelled between the arms (seed noise only)
    estimand VARCHAR,                       -- what the row answers, in one sentence
    PRIMARY KEY (hypothesis, dataset, task, baseline, challenger, method)
);

CREATE TABLE IF NOT EXISTS class_f1 (      -- per-class F1 of each condition's best-dev trial (Table 4)
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, label VARCHAR NOT NULL, f1 DOUBLE, significant BOOLEAN,
    identity VARCHAR,
    PRIMARY KEY (hypothesis, dataset, task, condition, label)
);
