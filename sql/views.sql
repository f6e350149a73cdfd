-- Views that print the paper's tables from the result tables.  Columns of tables 1-3 are the
-- paper's 8 dataset/task combinations; `results_long` holds every dataset, your own included.

-- each partition's current study identity: the one its latest run wrote
CREATE OR REPLACE VIEW current_identities AS
SELECT * EXCLUDE (pick) FROM (
    SELECT *, row_number() OVER (PARTITION BY hypothesis, dataset, task ORDER BY recorded_at DESC, identity) AS pick
    FROM study_identities
) WHERE pick = 1;

-- trials, epochs and predictions of the current identities only: what every view below reads
CREATE OR REPLACE VIEW trials AS
SELECT t.* FROM all_trials t JOIN current_identities c USING (hypothesis, dataset, task, identity);
CREATE OR REPLACE VIEW epochs AS
SELECT e.* FROM all_epochs e JOIN current_identities c USING (hypothesis, dataset, task, identity);
-- `predictions`: each condition's selected trial (replicate 0); `seed_predictions`: its seed replicates too;
-- `ensemble_predictions`: its seed ensemble's (replicate -1: the seeds' outputs averaged, seed_ensemble.py)
CREATE OR REPLACE VIEW seed_predictions AS
SELECT p.* FROM all_predictions p JOIN current_identities c USING (hypothesis, dataset, task, identity)
WHERE p.replicate >= 0;
CREATE OR REPLACE VIEW predictions AS
SELECT * FROM seed_predictions WHERE replicate = 0;
CREATE OR REPLACE VIEW ensemble_predictions AS
SELECT p.* FROM all_predictions p JOIN current_identities c USING (hypothesis, dataset, task, identity)
WHERE p.replicate = -1;

-- `slot_predictions`: every finished trial's test predictions, by slot (the search test pairs slot k of two
-- conditions: the same configuration and seed)
CREATE OR REPLACE VIEW slot_predictions AS
SELECT p.* FROM all_slot_predictions p JOIN current_identities c USING (hypothesis, dataset, task, identity);

CREATE OR REPLACE VIEW chance_levels AS
SELECT l.* FROM all_chance_levels l JOIN current_identities c USING (hypothesis, dataset, task, identity);

-- each auxiliary target's measured affinity with the primary task per condition (mean over its finished
-- trials; hanrock_core/learning/loss_weighting.py), beside the paper's mutual-information ranking
CREATE OR REPLACE VIEW auxiliary_affinity AS
WITH per_condition AS (
    SELECT a.hypothesis, a.dataset, a.task, a.condition, a.weighting, a.aux_task,
           avg(a.affinity) AS affinity, avg(a.final_weight) AS final_weight, count(*) AS trials,
           avg(CASE WHEN a.kept THEN 1.0 WHEN NOT a.kept THEN 0.0 END) AS kept_share
    FROM all_auxiliary_affinity a
    JOIN current_identities c USING (hypothesis, dataset, task, identity)
    JOIN all_trials t USING (hypothesis, dataset, task, identity, condition, trial)
    WHERE t.state IN ('complete', 'pruned')
    GROUP BY ALL
)
SELECT p.hypothesis, p.dataset, p.task, p.condition, p.aux_task, m.family,
       round(p.affinity, 4) AS affinity,
       rank() OVER (PARTITION BY p.hypothesis, p.dataset, p.task, p.condition ORDER BY p.affinity DESC) AS affinity_rank,
       round(m.mi, 4) AS mi, m.rank AS mi_rank,
       round(p.final_weight, 4) AS final_weight, p.kept_share, p.trials, p.weighting
FROM per_condition p
LEFT JOIN mutual_information m ON m.dataset = p.dataset AND m.task = p.task AND m.aux_task = p.aux_task
ORDER BY p.hypothesis, p.dataset, p.task, p.condition, affinity_rank;

-- each auxiliary family's affinity: the mean over its targets (of auxiliary_affinity), beside their mean MI
CREATE OR REPLACE VIEW auxiliary_affinity_family AS
WITH per_family AS (
    SELECT hypothesis, dataset, task, condition, family, count(*) AS targets,
           avg(affinity) AS affinity, avg(mi) AS mi, avg(kept_share) AS kept_share, any_value(weighting) AS weighting
    FROM auxiliary_affinity GROUP BY ALL
)
SELECT hypothesis, dataset, task, condition, family, targets, round(affinity, 4) AS affinity,
       rank() OVER (PARTITION BY hypothesis, dataset, task, condition ORDER BY affinity DESC) AS affinity_rank,
       round(mi, 4) AS mi,
       rank() OVER (PARTITION BY hypothesis, dataset, task, condition ORDER BY mi DESC NULLS LAST) AS mi_rank,
       round(kept_share, 4) AS kept_share, weighting
FROM per_family
ORDER BY hypothesis, dataset, task, condition, affinity_rank;

-- the trial each condition selects: the best dev value among complete and pruned trials, the lower
-- trial on a tie (what significance, the kept models and the paper views pick)
CREATE OR REPLACE VIEW selected_trials AS
SELECT * EXCLUDE (pick) FROM (
    SELECT *, row_number() OVER (PARTITION BY hypothesis, dataset, task, condition
                                 ORDER BY CASE WHEN metric = 'mae' THEN dev_value ELSE -dev_value END, trial) AS pick
    FROM trials WHERE state IN ('complete', 'pruned') AND dev_value IS NOT NULL
) WHERE pick = 1;

-- is each condition's study sound? (hanrock_core/study/study_health.py; `hanrock results health`)
CREATE OR REPLACE VIEW study_health AS
WITH searched AS (
    SELECT t.*, l.dev_value AS chance_dev,
           CASE WHEN t.metric = 'mae' THEN t.dev_value >= l.dev_value * (1 - 0.02)
                ELSE t.dev_value <= l.dev_value + 0.02 END AS at_chance
    FROM trials t LEFT JOIN chance_levels l USING (hypothesis, dataset, task, identity)
    WHERE t.condition <> 'floor' AND t.state IN ('complete', 'pruned') AND t.dev_value IS NOT NULL
),
counts AS (
    SELECT hypothesis, dataset, task, condition, count(*) AS trials,
           count(*) FILTER (WHERE at_chance) AS trials_at_chance, any_value(chance_dev) AS chance_dev
    FROM searched GROUP BY ALL
),
unseen AS (
    SELECT hypothesis, dataset, task, unseen_classes, test_value AS chance_test FROM chance_levels
),
floors AS (
    SELECT hypothesis, dataset, task, dev_value AS floor_dev,
           CASE WHEN metric = 'mae' THEN test_value - dev_value ELSE dev_value - test_value END AS floor_gap
    FROM trials WHERE condition = 'floor'
),
judged AS (
    SELECT c.*, s.trial AS selected_trial, s.metric, s.dev_value AS selected_dev, s.test_value AS selected_test,
           s.best_epoch, s.epochs_run, s.stopped, f.floor_dev, f.floor_gap, u.unseen_classes, u.chance_test,
           CASE WHEN s.metric = 'mae' THEN s.test_value > u.chance_test
                ELSE s.test_value < u.chance_test END AS test_below_chance,
           s.best_epoch = s.epochs_run AND coalesce(s.stopped, 'epochs') <> 'patience' AS still_improving,
           CASE WHEN s.metric = 'mae' THEN s.dev_value > f.floor_dev ELSE s.dev_value < f.floor_dev END AS below_floor,
           CASE WHEN s.metric = 'mae' THEN s.test_value - s.dev_value ELSE s.dev_value - s.test_value END AS dev_test_gap
    FROM counts c JOIN selected_trials s USING (hypothesis, dataset, task, condition)
    LEFT JOIN floors f USING (hypothesis, dataset, task)
    LEFT JOIN unseen u USING (hypothesis, dataset, task)
)
SELECT *, concat_ws('; ',
        CASE WHEN trials_at_chance > 0 THEN trials_at_chance || ' of ' || trials || ' trials never left chance level' END,
        CASE WHEN still_improving THEN 'the selected trial was still improving at its last epoch (' || epochs_run || ')' END,
        CASE WHEN below_floor THEN 'the selected trial is below the bag-of-words floor on dev' END,
        CASE WHEN dev_test_gap > 0 AND dev_test_gap - greatest(coalesce(floor_gap, 0), 0) > 0.1 * abs(selected_dev)
             THEN 'test is ' || printf('%.3f', dev_test_gap) || ' worse than dev (the floor: '
                  || printf('%.3f', coalesce(floor_gap, 0)) || ')' END,
        CASE WHEN test_below_chance THEN 'the selected trial is worse than chance on test ('
                  || printf('%.3f', selected_test) || ' against ' || printf('%.3f', chance_test) || ')' END,
        CASE WHEN unseen_classes IS NOT NULL THEN 'classes: ' || unseen_classes END) AS flags
FROM judged ORDER BY hypothesis, dataset, task, condition;

-- studies a later run on other inputs superseded (their rows stay in the all_* tables)
CREATE OR REPLACE VIEW superseded_studies AS
SELECT s.hypothesis, s.dataset, s.task, s.identity, s.profile, s.recorded_at AS last_written,
       c.identity AS superseded_by, c.profile AS current_profile,
       coalesce(nullif(array_to_string(list_filter(['profile', 'narratives', 'targets', 'data', 'code'],
           lambda p: json_extract_string(s.parts, '$.' || p) IS DISTINCT FROM json_extract_string(c.parts, '$.' || p)),
           ', '), ''), 'nothing recorded') AS what_differs,
       (SELECT count(*) FROM all_trials t WHERE t.hypothesis = s.hypothesis AND t.dataset = s.dataset
            AND t.task = s.task AND t.identity = s.identity) AS trials
FROM study_identities s JOIN current_identities c USING (hypothesis, dataset, task)
WHERE s.identity <> c.identity
ORDER BY s.hypothesis, s.dataset, s.task, s.recorded_at DESC;

-- every seed of each condition's selected configuration: replicate 0 is the selected trial itself, 1, 2, ...
-- its seed replicates (profile key `replicates`)
CREATE OR REPLACE VIEW replicates AS
SELECT hypothesis, dataset, task, identity, condition, trial, 0 AS replicate, NULL::BIGINT AS seed, metric,
       dev_value, test_value, best_epoch, epochs_run, stopped, dev_metrics, test_metrics
FROM selected_trials WHERE condition <> 'floor'
UNION ALL
SELECT r.hypothesis, r.dataset, r.task, r.identity, r.condition, r.trial, r.replicate, r.seed, r.metric,
       r.dev_value, r.test_value, r.best_epoch, r.epochs_run, r.stopped, r.dev_metrics, r.test_metrics
FROM all_replicates r JOIN current_identities c USING (hypothesis, dataset, task, identity);

-- each condition's seed ensemble (the selected trial and its replicates, their outputs averaged;
-- hanrock_core/study/seed_ensemble.py)
CREATE OR REPLACE VIEW ensembles AS
SELECT e.* FROM all_ensembles e JOIN current_identities c USING (hypothesis, dataset, task, identity);

-- the selected trial and its seed replicates (profile key `replicates`): mean and sd over seeds
CREATE OR REPLACE VIEW replicate_summary AS
SELECT hypothesis, dataset, task, condition, any_value(trial) AS trial, count(*) AS seeds,
       avg(dev_value) AS dev_mean, stddev_samp(dev_value) AS dev_sd,
       avg(test_value) AS test_mean, stddev_samp(test_value) AS test_sd
FROM replicates GROUP BY hypothesis, dataset, task, condition;

-- every finished slot of a condition's search: mean and sd over slots of the test value (what the search
-- test compares between two conditions, slot by slot)
CREATE OR REPLACE VIEW search_summary AS
SELECT hypothesis, dataset, task, condition, count(*) AS slots,
       avg(dev_value) AS dev_mean, avg(test_value) AS test_mean, stddev_samp(test_value) AS test_sd
FROM trials WHERE condition <> 'floor' AND state IN ('complete', 'pruned') AND test_value IS NOT NULL
GROUP BY hypothesis, dataset, task, condition;

-- one cell per hypothesis x condition x dataset.task, each number labelled, the one the verdict compares
-- first:
--   search 0.748   the mean test value over every slot of the condition's search: what the verdict against
--                  the baseline compares (the search test, slot by slot; docs/studies.md, Significance)
--   sel. 0.764     the selected (best-dev) trial's test value: the paper's number
--   seeds 0.754 ±0.007   the selected configuration's seeds (the selected trial and its replicates)
--   ens. 0.770     its seed ensemble (the seeds' outputs averaged)
--   better / worse / equivalent / undecided   the verdict against the hypothesis's baseline (search test;
--                  the selected configurations' seeds where no slots are stored); * significant by the paper's
--                  appendix A.4, ^ H2's A = 1 against A = 0 (A.4)
CREATE OR REPLACE VIEW results_long AS
WITH best AS (
    SELECT hypothesis, dataset, task, condition, metric, dev_value, test_value FROM selected_trials
),
own AS (   -- comparisons with the hypothesis's baseline (the floor has its own column, H2's A = 0 the caret)
    SELECT * FROM significance
    WHERE NOT (hypothesis = 'h2' AND baseline LIKE '%\_a0' ESCAPE '\') AND baseline <> 'floor'
          AND challenger NOT LIKE '% ensemble'
),
marks AS (
    SELECT hypothesis, dataset, task, challenger AS condition,
           bool_or(significant) FILTER (WHERE method = 'paper') AS star,
           coalesce(any_value(verdict) FILTER (WHERE method = 'search'),
                    any_value(verdict) FILTER (WHERE method = 'paired')) AS verdict,
           CASE WHEN count(*) FILTER (WHERE method = 'search') > 0 THEN 'search' ELSE 'paired' END AS verdict_method,
           coalesce(any_value(p_value) FILTER (WHERE method = 'search'),
                    any_value(p_value) FILTER (WHERE method = 'paired')) AS verdict_p,
           coalesce(any_value(detectable_effect) FILTER (WHERE method = 'search'),
                    any_value(detectable_effect) FILTER (WHERE method = 'paired')) AS detectable_effect
    FROM own GROUP BY ALL
),
floor_marks AS (   -- the condition against the bag-of-words floor: its verdict (search test; else its seeds')
    SELECT hypothesis, dataset, task, challenger AS condition,
           bool_or(significant AND better) FILTER (WHERE method = 'paper') AS beats_floor,
           coalesce(any_value(verdict) FILTER (WHERE method = 'search'),
                    any_value(verdict) FILTER (WHERE method = 'paired')) AS vs_floor
    FROM significance WHERE baseline = 'floor' AND challenger NOT LIKE '% ensemble'
    GROUP BY ALL
),
ensemble_floor AS (   -- the condition's seed ensemble against the floor (paired test)
    SELECT hypothesis, dataset, task, left(challenger, length(challenger) - length(' ensemble')) AS condition,
           verdict AS ensemble_vs_floor, p_value AS ensemble_vs_floor_p
    FROM significance WHERE baseline = 'floor' AND method = 'paired' AND challenger LIKE '% ensemble'
),
carets AS (
    SELECT hypothesis, dataset, task, challenger AS condition, bool_or(significant) AS caret
    FROM significance WHERE hypothesis = 'h2' AND baseline LIKE '%\_a0' ESCAPE '\' AND method = 'paper'
    GROUP BY ALL
)
SELECT b.hypothesis, b.dataset, b.task, b.condition, b.metric, b.test_value AS value,
       coalesce(m.star, false) AS significant, m.verdict, m.verdict_method, m.verdict_p, m.detectable_effect,
       f.beats_floor, f.vs_floor,
       s.slots AS search_slots, s.test_mean AS search_mean, s.test_sd AS search_sd,
       coalesce(r.seeds, 1) AS seeds, r.test_mean, r.test_sd,
       e.seeds AS ensemble_seeds, e.dev_value AS ensemble_dev, e.test_value AS ensemble_test,
       ef.ensemble_vs_floor, ef.ensemble_vs_floor_p,
       CASE WHEN b.condition = 'floor' THEN printf('%.3f (one fit)', b.test_value)
       ELSE concat_ws(' · ',
           CASE WHEN s.slots > 1 THEN printf('search %.3f', s.test_mean) END,
           printf('sel. %.3f', b.test_value),
           CASE WHEN r.seeds > 1 THEN printf('seeds %.3f ±%.3f', r.test_mean, r.test_sd) END,
           CASE WHEN e.test_value IS NOT NULL THEN printf('ens. %.3f', e.test_value) END,
           nullif(coalesce(m.verdict, '') || CASE WHEN m.star THEN '*' ELSE '' END
                  || CASE WHEN c.caret THEN '^' ELSE '' END, ''))
       END AS cell
FROM best b
LEFT JOIN marks m USING (hypothesis, dataset, task, condition)
LEFT JOIN carets c USING (hypothesis, dataset, task, condition)
LEFT JOIN floor_marks f USING (hypothesis, dataset, task, condition)
LEFT JOIN search_summary s USING (hypothesis, dataset, task, condition)
LEFT JOIN replicate_summary r USING (hypothesis, dataset, task, condition)
LEFT JOIN ensembles e USING (hypothesis, dataset, task, condition)
LEFT JOIN ensemble_floor ef USING (hypothesis, dataset, task, condition);

-- paper_row(h): one row per condition of hypothesis h, one column per dataset/task.  The platform
-- re-creates this macro after this file (hanrock_core/base/results.py, `paper_row_macro`) with the
-- paper's 8 columns followed by every other dataset/task in `trials`, each named with its metric;
-- the definition below is the paper's 8 columns, for a database no study has written yet.
CREATE OR REPLACE MACRO paper_row(h) AS TABLE
SELECT condition,
    max(cell) FILTER (WHERE dataset = 'iemocap' AND task = 'emotion')    AS "IEMOCAP Classif. MA(4)",
    max(cell) FILTER (WHERE dataset = 'iemocap' AND task = 'valence')    AS "IEMOCAP Val. MAE",
    max(cell) FILTER (WHERE dataset = 'iemocap' AND task = 'activation') AS "IEMOCAP Act. MAE",
    max(cell) FILTER (WHERE dataset = 'iemocap' AND task = 'dominance')  AS "IEMOCAP Dom. MAE",
    max(cell) FILTER (WHERE dataset = 'semaine' AND task = 'activation') AS "SEMAINE Act. MAE",
    max(cell) FILTER (WHERE dataset = 'semaine' AND task = 'intensity')  AS "SEMAINE Int. MAE",
    max(cell) FILTER (WHERE dataset = 'semaine' AND task = 'power')      AS "SEMAINE Pow. MAE",
    max(cell) FILTER (WHERE dataset = 'semaine' AND task = 'valence')    AS "SEMAINE Val. MAE"
FROM results_long WHERE hypothesis = h GROUP BY condition;

-- every table ends with the bag-of-words floor, a row the paper does not have
CREATE OR REPLACE VIEW table1_h1 AS
SELECT CASE condition WHEN 'none' THEN 'None (Baseline)' WHEN 'floor' THEN 'Floor: TF-IDF (not in paper)'
       ELSE condition END AS "Aux. Target", * EXCLUDE (condition)
FROM paper_row('h1')
ORDER BY CASE condition WHEN 'none' THEN 0 WHEN 'ap' THEN 1 WHEN 'aphf' THEN 2 WHEN 'hf' THEN 3 WHEN 'lex' THEN 4
         WHEN 'floor' THEN 9 ELSE 5 END, condition;

CREATE OR REPLACE VIEW table2_h2 AS
SELECT CASE WHEN condition = 'floor' THEN 'Floor: TF-IDF (not in paper)'
            WHEN condition LIKE '%\_a0' ESCAPE '\' THEN replace(replace(condition, '_a0', ''), 'p', '') || ', A = 0'
            ELSE replace(condition, 'p', '') END AS "Pri. GRU", * EXCLUDE (condition)
FROM paper_row('h2')
ORDER BY condition = 'floor', condition LIKE '%\_a0' ESCAPE '\',
         TRY_CAST(regexp_extract(condition, '[0-9]+') AS INTEGER) DESC;

CREATE OR REPLACE VIEW table3_h3 AS
SELECT CASE condition WHEN 'flat' THEN 'Flat (Baseline)' WHEN 'floor' THEN 'Floor: TF-IDF (not in paper)'
       ELSE 'HAN-ROCK' END AS "Hierarchy", * EXCLUDE (condition)
FROM paper_row('h3') ORDER BY CASE condition WHEN 'flat' THEN 0 WHEN 'han_rock' THEN 1 ELSE 2 END;

-- H4 (not in the paper): the same model and search, the losses weighted fixed (baseline) or learned;
-- `auto` keeps only the targets with positive measured affinity and also faces `none`
CREATE OR REPLACE VIEW table_h4_weighting AS
SELECT CASE condition WHEN 'aphf' THEN 'aphf, fixed (Baseline)' WHEN 'none' THEN 'None'
       WHEN 'floor' THEN 'Floor: TF-IDF (not in paper)' ELSE condition END AS "Weighting", * EXCLUDE (condition)
FROM paper_row('h4')
ORDER BY CASE condition WHEN 'aphf' THEN 0 WHEN 'none' THEN 2 WHEN 'floor' THEN 3 ELSE 1 END, condition;
-- (the learned weightings by name: the views name none of them, so a weighting added to
-- hanrock_core/learning/loss_weighting.py's WEIGHTINGS shows here with no change to this file)

-- Table 4: per-class F1 on IEMOCAP classification, baseline and challenger of each hypothesis
CREATE OR REPLACE VIEW table4_class_f1 AS
SELECT label AS "Label",
    max(printf('%.3f', f1)) FILTER (WHERE hypothesis = 'h1' AND condition = 'none') AS "H1 Baseline (None)",
    max(printf('%.3f', f1) || CASE WHEN significant THEN '*' ELSE '' END) FILTER (WHERE hypothesis = 'h1' AND condition = 'aphf') AS "H1 Challenger (aphf)",
    max(printf('%.3f', f1)) FILTER (WHERE hypothesis = 'h2' AND condition = (SELECT 'p' || max(primary_units) FROM trials WHERE hypothesis = 'h2')) AS "H2 Baseline (max P)",
    max(printf('%.3f', f1) || CASE WHEN significant THEN '*' ELSE '' END) FILTER (WHERE hypothesis = 'h2' AND condition = 'p1') AS "H2 Challenger (P = 1)",
    max(printf('%.3f', f1)) FILTER (WHERE hypothesis = 'h3' AND condition = 'flat') AS "H3 Baseline (Flat)",
    max(printf('%.3f', f1) || CASE WHEN significant THEN '*' ELSE '' END) FILTER (WHERE hypothesis = 'h3' AND condition = 'han_rock') AS "H3 Challenger (HAN-ROCK)"
FROM class_f1 WHERE dataset = 'iemocap' AND task = 'emotion'
GROUP BY label ORDER BY label;

-- Table 7: hyper-parameters of the best-dev trial of each task (the challenger-rich H1 'aphf' arm)
CREATE OR REPLACE VIEW table7_best_hyperparameters AS
WITH ranked AS (
    SELECT *, row_number() OVER (PARTITION BY dataset, task
                                 ORDER BY CASE WHEN metric = 'mae' THEN dev_value ELSE -dev_value END, trial) AS pick
    FROM trials WHERE hypothesis = 'h1' AND condition = 'aphf' AND state IN ('complete', 'pruned')
)
SELECT dataset, task, dev_value AS "Dev. set", test_value AS "Test set", learning_rate AS "Learning rate",
       batch_size AS "Batch size", primary_units AS "Pri GRU", aux_units AS "Aux GRU", l2 AS "L2 regularization",
       content_size AS "Content-Size", dropout AS "GRU dropout", recurrent_dropout AS "Recurrent dropout",
       best_epoch AS "Epoch No.", weight_scheme AS "Aux. weights assignment", primary_weight AS "Main loss",
       loss_weights AS "Aux. loss weights"
FROM ranked WHERE pick = 1 ORDER BY dataset, task;

-- the answer of each comparison on one line, from the test that answers it: between two searched conditions
-- the search test (every slot of both searches, slot by slot: about the conditions; against the floor, every
-- slot of the condition), and the selected configurations' seeds for the kept models against the floor and
-- between seed ensembles; its verdict (better, worse, equivalent within
-- the margin, undecided), difference, interval, p, the equivalence p, the paper's A.4 beside it where A.4
-- tests the pair, what the test could detect (planning, not a conclusion), health flags -- `weak test`: an
-- undecided comparison that only a difference above the margin (the smallest worth finding: 0.03 of a
-- classification metric, 5% of the baseline's MAE) could have decided -- and the estimand in one sentence
CREATE OR REPLACE VIEW comparison_verdicts AS
WITH paper AS (SELECT * FROM significance WHERE method = 'paper'),
answers AS (
    SELECT * FROM significance WHERE method = 'search'
    UNION ALL
    SELECT s.* FROM significance s
    WHERE s.method = 'paired' AND (NOT EXISTS (
        SELECT 1 FROM significance x
        WHERE x.method = 'search' AND x.hypothesis = s.hypothesis AND x.dataset = s.dataset AND x.task = s.task
              AND x.baseline = s.baseline AND x.challenger = s.challenger)
        -- against the floor both answers show where the seeds can give one: the condition's (search) and
        -- its kept model's (seeds)
        OR (s.baseline = 'floor' AND s.detectable_effect IS NOT NULL))
),
flags AS (SELECT hypothesis, dataset, task, condition, flags FROM study_health WHERE flags <> '')
SELECT q.hypothesis, q.dataset, q.task, q.baseline, q.challenger, q.challenger || ' vs ' || q.baseline AS comparison,
       q.metric,
       CASE WHEN q.detectable_effect IS NULL THEN 'undecided' ELSE q.verdict END AS verdict,
       q.difference, q.ci_low, q.ci_high, q.seeds AS per_condition,
       CASE q.method WHEN 'search' THEN 'slots' ELSE 'seeds' END AS counted,
       q.p_value, q.p_equivalence, q.margin, q.detectable_effect, q.p_seed_permutation,
       CASE WHEN p.method IS NULL THEN NULL
            WHEN p.significant THEN CASE WHEN p.better THEN 'better' ELSE 'worse' END ELSE 'n.s.' END AS paper_verdict,
       concat_ws('; ',
           CASE WHEN q.detectable_effect IS NULL THEN 'needs 2+ seeds' END,
           CASE WHEN q.verdict = 'undecided' AND q.detectable_effect > q.margin THEN 'weak test' END,
           (SELECT string_agg(f.condition || ': ' || f.flags, '; ') FROM flags f
             WHERE f.hypothesis = q.hypothesis AND f.dataset = q.dataset AND f.task = q.task
               AND f.condition IN (q.baseline, q.challenger,
                                   replace(q.baseline, ' ensemble', ''), replace(q.challenger, ' ensemble', '')))) AS health,
       q.method AS test, q.estimand
FROM answers q LEFT JOIN paper p USING (hypothesis, dataset, task, baseline, challenger)
ORDER BY q.hypothesis, q.dataset, q.task, q.baseline = 'floor', q.baseline LIKE '% ensemble', q.challenger;

-- the same, printed: one line a comparison (`hanrock results verdicts`, the UI's verdict table)
CREATE OR REPLACE VIEW verdicts AS
SELECT hypothesis, dataset || '.' || task AS "dataset.task", comparison,
       CASE metric WHEN 'balanced_accuracy' THEN 'MA' WHEN 'weighted_f1' THEN 'wF1' WHEN 'macro_f1' THEN 'mF1'
                   WHEN 'mae' THEN 'MAE' ELSE metric END AS metric,
       verdict,
       printf('%+.3f', difference) AS difference,
       '[' || printf('%+.3f', ci_low) || ',' || printf('%+.3f', ci_high) || ']' AS "95% interval",
       per_condition || ' ' || CASE WHEN per_condition = 1 THEN rtrim(counted, 's') ELSE counted END AS "per condition",
       round(p_value, 3) AS p,
       round(p_equivalence, 3) AS "p within margin",
       printf('±%.3f', margin) AS margin,
       coalesce(paper_verdict, 'not tested') AS "A.4",
       round(detectable_effect, 3) AS "detects >= (planning)",
       health, test, estimand
FROM comparison_verdicts;

-- what each view holds, in the database itself (`SELECT view_name, comment FROM duckdb_views()`,
-- `hanrock results views`)
COMMENT ON VIEW current_identities IS 'each partition''s current study identity: the inputs its latest run trained on';
COMMENT ON VIEW trials IS 'every trial (slot) of the current studies: state, configuration, dev and test value';
COMMENT ON VIEW epochs IS 'every epoch of every trial: train loss, dev and test value';
COMMENT ON VIEW seed_predictions IS 'test predictions of each condition''s selected trial (replicate 0) and its seed replicates';
COMMENT ON VIEW predictions IS 'test predictions of each condition''s selected trial';
COMMENT ON VIEW ensemble_predictions IS 'test predictions of each condition''s seed ensemble (replicate -1)';
COMMENT ON VIEW slot_predictions IS 'test predictions of every finished slot of every search (the search test compares slot k of two conditions)';
COMMENT ON VIEW chance_levels IS 'the trivial predictor of each study''s data';
COMMENT ON VIEW auxiliary_affinity IS 'each auxiliary target''s measured affinity with the primary task, beside its MI rank';
COMMENT ON VIEW auxiliary_affinity_family IS 'auxiliary affinity per family';
COMMENT ON VIEW selected_trials IS 'each condition''s selected trial: the best dev value, the lower slot on a tie';
COMMENT ON VIEW study_health IS 'did each condition learn, did its selected model finish learning, does it beat the floor (flags)';
COMMENT ON VIEW superseded_studies IS 'studies whose inputs changed since, and what differs';
COMMENT ON VIEW replicates IS 'every seed of each selected configuration: replicate 0 is the selected trial itself';
COMMENT ON VIEW ensembles IS 'each condition''s seed ensemble (its seeds'' outputs averaged): dev and test value';
COMMENT ON VIEW replicate_summary IS 'mean and sd over the seeds of each selected configuration (the selected trial counted)';
COMMENT ON VIEW search_summary IS 'mean and sd of the test value over every finished slot of each condition''s search';
COMMENT ON VIEW results_long IS 'one row per hypothesis x condition x dataset.task: every number of the paper tables, numeric, and the labelled cell';
COMMENT ON VIEW table1_h1 IS 'the paper''s Table 1 (H1), printed: labelled numbers and the verdict against the baseline';
COMMENT ON VIEW table2_h2 IS 'the paper''s Table 2 (H2), printed';
COMMENT ON VIEW table3_h3 IS 'the paper''s Table 3 (H3), printed';
COMMENT ON VIEW table_h4_weighting IS 'H4 (learned loss weightings), printed';
COMMENT ON VIEW table4_class_f1 IS 'the paper''s Table 4: per-class F1 on IEMOCAP classification';
COMMENT ON VIEW table7_best_hyperparameters IS 'the paper''s Table 7: hyper-parameters of the best-dev aphf trial';
COMMENT ON VIEW comparison_verdicts IS 'each comparison''s verdict (better, worse, equivalent, undecided) with numeric difference, interval, p, margin and what it answers (estimand)';
COMMENT ON VIEW verdicts IS 'comparison_verdicts printed: one line a comparison';
