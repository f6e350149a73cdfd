"""The platform's code location, and an instance that files command-line runs under it.

`dagster job execute -m hanrock_assets` and `dagster asset materialize -m hanrock_assets` record
their runs with no code-location origin, so the UI (which lists a job's runs by the label
`__repository__@hanrock_assets`) shows them under Runs but not under their job, and warns on
Re-execute.  `HanrockInstance` (set as `instance_class` in the platform's dagster.yaml) gives such a
run the origin the UI's own code location has: module `hanrock_assets`, location `hanrock_assets`,
the name both documented ways of starting the UI give it (`make ui`, i.e. `dagster dev -w
workspace.yaml`, and Dagster's usual `dagster dev -m hanrock_assets`); runs launched from the UI
already carry it and are left as they are.
"""

from __future__ import annotations

import sys

from dagster import DagsterInstance
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.origin import JobPythonOrigin
from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

MODULE = "hanrock_assets"
LOCATION_NAME = MODULE  # workspace.yaml's location_name and `dagster dev -m`'s (a test checks they agree)


def is_platform_job(origin: JobPythonOrigin | None) -> bool:
    """Whether a run's code origin is this package loaded as a module (what the README's commands do)."""
    pointer = origin.repository_origin.code_pointer if origin is not None else None
    return isinstance(pointer, ModuleCodePointer) and pointer.module == MODULE


def location_origin(job_name: str) -> RemoteJobOrigin:
    """The origin a run of `job_name` has when the UI's code location (workspace.yaml) launches it."""
    target = LoadableTargetOrigin(executable_path=sys.executable, module_name=MODULE)
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, LOCATION_NAME)
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)


class HanrockInstance(DagsterInstance):
    """A Dagster instance whose command-line runs of the platform appear under their job in the UI."""

    @classmethod
    def config_schema(cls) -> dict:
        """No settings of its own (Dagster asks an `instance_class` for them)."""
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> dict:
        """Dagster's own storage defaults under the instance directory."""
        from dagster._core.instance.ref import InstanceRef

        return InstanceRef.config_defaults(base_dir)

    def create_run_for_job(self, job_def, *args, remote_job_origin=None, job_code_origin=None, **fields):
        """What `dagster job execute` / `asset materialize` call: the run gets the UI's origin."""
        if remote_job_origin is None and is_platform_job(job_code_origin):
            remote_job_origin = location_origin(job_def.name)
        return super().create_run_for_job(
            job_def, *args, remote_job_origin=remote_job_origin, job_code_origin=job_code_origin, **fields
        )

    def create_run(self, *, job_name: str, remote_job_origin=None, job_code_origin=None, **fields):
        """Every other way of creating a run (the same rule)."""
        if remote_job_origin is None and is_platform_job(job_code_origin):
            remote_job_origin = location_origin(job_name)
        return super().create_run(
            job_name=job_name, remote_job_origin=remote_job_origin, job_code_origin=job_code_origin, **fields
        )
