"""The one place where asset events are logged by hand: from the study jobs' ops.

The study jobs fan out with dynamic outputs (a step per dataset, then per dataset x task), and an
op in a dynamic graph cannot declare a partitioned asset as its output.  So each op stores its
step's table where the IO manager would, and logs the materialisation (or the check evaluation)
of the asset it computed, with the same metadata the asset itself reports: the catalog cannot
tell a job's materialisation from the asset's.
"""

from __future__ import annotations

import dagster as dg

from .steps import CheckResult, StepResult
from .storage import write_table


def record(context: dg.OpExecutionContext, settings, asset: str, partition: str | None, result: StepResult) -> None:
    """Store the step's table (if any) and log the asset's materialisation for `partition`, then its checks;
    a step whose blocking check failed logs the check and raises its failure instead."""
    if result.failure is not None:
        for check in result.checks:
            record_check(context, asset, check)
        raise result.failure
    metadata = dict(result.metadata)
    if result.table is not None:
        path = write_table(settings.home, asset, partition, result.table)
        metadata["path"] = dg.MetadataValue.path(str(path))
    context.log_event(dg.AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata))
    for check in result.checks:
        record_check(context, asset, check)


def record_check(context: dg.OpExecutionContext, asset: str, check: CheckResult) -> None:
    """Log the evaluation of an asset's check (the study jobs run it before the significance step)."""
    context.log_event(
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(asset),
            check_name=check.name,
            passed=check.passed,
            metadata=check.metadata,
            severity=check.severity,
            description=check.description,
        )
    )
