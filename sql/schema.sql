-- Results of the HAN-ROCK studies.  The platform applies this file (and views.sql) to
-- $HANROCK_HOME/results.duckdb itself; every statement is idempotent.

CREATE TABLE IF NOT EXISTS trials (
    hypothesis      VARCHAR NOT NULL,   -- h1, h2, h3
    dataset         VARCHAR NOT NULL,
    task            VARCHAR NOT NULL,   -- primary task, e.g. emotion, valence
    condition       VARCHAR NOT NULL,   -- e.g. none, ap, aphf; p256; flat, han_rock
    trial           INTEGER NOT NULL,   -- Optuna trial number within the condition
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
    PRIMARY KEY (hypothesis, dataset, task, condition, trial)
);

CREATE TABLE IF NOT EXISTS epochs (
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, trial INTEGER NOT NULL, epoch INTEGER NOT NULL,
    train_loss DOUBLE, dev_value DOUBLE, test_value DOUBLE,
    PRIMARY KEY (hypothesis, dataset, task, condition, trial, epoch)
);

CREATE TABLE IF NOT EXISTS predictions (   -- test predictions of each condition's best-dev trial
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, trial INTEGER NOT NULL, utterance_id VARCHAR NOT NULL,
    truth VARCHAR, prediction VARCHAR,
    PRIMARY KEY (hypothesis, dataset, task, condition, utterance_id)
);

CREATE TABLE IF NOT EXISTS mutual_information (
    dataset VARCHAR NOT NULL, task VARCHAR NOT NULL, aux_task VARCHAR NOT NULL,
    family VARCHAR, kind VARCHAR, mi DOUBLE, rows_used INTEGER, rank INTEGER,
    PRIMARY KEY (dataset, task, aux_task)
);

CREATE TABLE IF NOT EXISTS significance (
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL,
    baseline VARCHAR NOT NULL, challenger VARCHAR NOT NULL,
    metric VARCHAR, higher_better BOOLEAN,
    baseline_value DOUBLE, challenger_value DOUBLE,
    ci_low DOUBLE, ci_high DOUBLE,          -- 95% interval of challenger - baseline
    significant BOOLEAN, better BOOLEAN, resamples INTEGER,
    baseline_trials INTEGER, challenger_trials INTEGER,
    PRIMARY KEY (hypothesis, dataset, task, baseline, challenger)
);

CREATE TABLE IF NOT EXISTS class_f1 (      -- per-class F1 of each condition's best-dev trial (Table 4)
    hypothesis VARCHAR NOT NULL, dataset VARCHAR NOT NULL, task VARCHAR NOT NULL,
    condition VARCHAR NOT NULL, label VARCHAR NOT NULL, f1 DOUBLE, significant BOOLEAN,
    PRIMARY KEY (hypothesis, dataset, task, condition, label)
);
