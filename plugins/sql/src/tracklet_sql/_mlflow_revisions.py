"""MLflow's Alembic revisions, oldest first: facts read from the ``revision`` and
``down_revision`` of the files in MLflow 3.17.2's ``mlflow/store/db_migrations/versions``
(MLflow's chain is linear). A database's ``alembic_version`` names one of them.

tracklet-sql serves MLflow's tracking tables from :data:`FIRST_SERVED` on (MLflow 2.4's
datasets and inputs, the last tracking tables a run needs) up to :data:`HEAD`; traces need
the ``spans`` table (:data:`SPANS`). Anything older is refused with ``mlflow db upgrade``;
anything unknown (a newer MLflow's) is refused naming the revision.
"""

from __future__ import annotations

__all__ = ["ANALYTICS", "FIRST_SERVED", "HEAD", "REVISIONS", "SPANS", "position"]

#: Every revision of MLflow 3.17.2's chain, oldest first, with the file that holds it.
REVISIONS: tuple[str, ...] = (
    "451aebb31d03",  # add_metric_step
    "90e64c465722",  # migrate_user_column_to_tags
    "181f10493468",  # allow_nulls_for_metric_values
    "df50e92ffc5e",  # add_experiment_tags_table
    "7ac759974ad8",  # update_run_tags_with_larger_limit
    "89d4b8295536",  # create_latest_metrics_table
    "2b4d017a5e9b",  # add_model_registry_tables_to_db
    "cfd24bdc0731",  # update_run_status_constraint_with_killed
    "0a8213491aaa",  # drop_duplicate_killed_constraint
    "728d730b5ebd",  # add_registered_model_tags_table
    "27a6a02d2cf1",  # add_model_version_tags_table
    "84291f40a231",  # add_run_link_to_model_version
    "a8c4a736bde6",  # allow_nulls_for_run_id
    "39d1c3be5f05",  # add_is_nan_constraint_for_metrics_tables_if_necessary
    "c48cb773bb87",  # reset_default_value_for_is_nan_in_metrics_table_for_mysql
    "bd07f7e963c5",  # create_index_on_run_uuid
    "0c779009ac13",  # add_deleted_time_field_to_runs_table
    "cc1f77228345",  # change_param_value_length_to_500
    "97727af70f4d",  # creation_time_last_update_time_experiments
    "3500859a5d39",  # add_model_aliases_table
    "7f2a7d5fae7d",  # add_datasets_inputs_input_tags_tables
    "2d6e25af4d3e",  # increase_max_param_val_length
    "acf3f17fdcc7",  # add_storage_location_field_to_model_
    "867495a8f9d4",  # add_trace_tables
    "5b0e9adcef9c",  # add_cascade_deletion_to_trace_tables_fk
    "4465047574b1",  # increase_max_dataset_schema_size
    "f5a4f2784254",  # increase_run_tag_value_limit
    "0584bdc529eb",  # add_cascading_deletion_to_datasets_from_experiments
    "400f98739977",  # add_logged_model_tables
    "6953534de441",  # add_step_to_inputs_table
    "bda7b8c39065",  # increase_model_version_tag_value_limit
    "cbc13b556ace",  # add_v3_trace_schema_columns
    "770bee3ae1dd",  # add_assessments_table
    "a1b2c3d4e5f6",  # add_spans_table
    "de4033877273",  # create_entity_associations
    "1a0cddfcaa16",  # add_webhooks_and_webhook_events_tables
    "534353b11cbc",  # add_scorer_table
    "71994744cf8e",  # add_evaluation_datasets
    "3da73c924c2f",  # add_outputs_to_dataset_record
    "bf29a5ff90ea",  # add_jobs_table
    "1bd49d398cd23",  # add_secrets_tables
    "b7c8d9e0f1a2",  # add_trace_metrics_table
    "5d2d30f0abce",  # update_job_table
    "c9d4e5f6a7b8",  # add_routing_strategy_to_endpoints
    "2c33131f4dae",  # add_online_scoring_configs_table
    "d3e4f5a6b7c8",  # add_display_name_to_endpoint_bindings
    "d0e1f2a3b4c5",  # add_experiment_id_to_endpoints
    "c8d9e0f1a2b3",  # add_span_metrics_and_dimension_attributes
    "1b5f0d9ad7c1",  # add_workspace_columns_and_catalog
    "e1f2a3b4c5d6",  # add_budget_policies_table
    "76601a5f987d",  # add_issues_table
    "c3d6457b6d8a",  # add_status_details_column_to_jobs_table
    "a5b4c3d2e1f0",  # add_metrics_run_key_step_index
    "ae8bbe7743c9",  # add_guardrails_tables
    "7d34483879f0",  # add_model_version_tags_workspace_index
    "da6fb0208061",  # add_workspaces_trace_archival_location
    "89d3d66ed43f",  # add_label_schemas_table
    "b7e4c1a90f23",  # add_review_queue_tables
    "a8b9c0d1e2f3",  # add_mcp_server_registry_tables
    "c1d2e3f4a5b6",  # add_span_experiment_start_time_index
    "c3d9e7f1a2b4",  # add_target_value_to_budget_policies
    "6f8d9c3b2a1e",  # add_experiment_fk_cascades
    "1971f2d9a75b",  # add_trace_archival_candidate_index
    "17e22815139b",  # increase_experiment_tag_value_limit
    "b7e2c1a4d9f3",  # add_jobs_creator
    "75868b020152",  # add_sql_trace_analytics_schema
    "dc11669786a5",  # add_job_executor_persistence_model
)
#: MLflow 3.17.2's head.
HEAD = REVISIONS[-1]
#: The oldest revision served: datasets, inputs and input_tags exist (MLflow 2.4).
FIRST_SERVED = "7f2a7d5fae7d"
#: The revision that adds the ``spans`` table (traces are served from there on).
SPANS = "a1b2c3d4e5f6"
#: The revision from which MLflow keeps a trace's session, token usage and cost in columns.
ANALYTICS = "75868b020152"

_POSITION = {revision: index for index, revision in enumerate(REVISIONS)}


def position(revision: str) -> int | None:
    """The revision's place in the chain (0 is the oldest), or None for one MLflow 3.17.2
    does not know."""
    return _POSITION.get(revision)
