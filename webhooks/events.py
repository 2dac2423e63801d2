"""The event types a webhook may subscribe to, and what each means (docs/api.md, "Webhooks").

Plain strings so that the client, the docs and the API share one spelling.
"""

SNAPSHOT_READY = "snapshot.ready"
SNAPSHOT_FAILED = "snapshot.failed"
RUN_SUCCEEDED = "training_run.succeeded"
RUN_FAILED = "training_run.failed"
RUN_CANCELLED = "training_run.cancelled"
MODEL_REGISTERED = "model.registered"
IMPORT_FINISHED = "import.finished"
QUEUE_EMPTY = "queue.empty"
AGREEMENT_BELOW = "agreement.below_threshold"
PING = "ping"  # sent by the ping endpoint only; every webhook receives it

EVENT_TYPES = {
    SNAPSHOT_READY: "a dataset snapshot finished building; its files can be downloaded",
    SNAPSHOT_FAILED: "a dataset snapshot's build failed for good (error in data.error)",
    RUN_SUCCEEDED: "a training run finished; its model is registered",
    RUN_FAILED: "a training run failed (error in data.error)",
    RUN_CANCELLED: "a training run stopped after a cancel",
    MODEL_REGISTERED: "a reward model or a PPO policy entered the registry",
    IMPORT_FINISHED: "an import job (upload of prompts) succeeded or failed (data.status)",
    QUEUE_EMPTY: "the last open prompt got its judgements: no work left for annotators (sent "
    "again only after new prompts or a raised overlap reopened the queue)",
    AGREEMENT_BELOW: "a full agreement recompute found the endpoint's agreement_metric under "
    "its agreement_threshold (sent again only after it has been back above)",
}

#: Events about a state that holds for a while: sent when it starts to hold (webhooks.conditions).
CONDITION_EVENTS = (QUEUE_EMPTY, AGREEMENT_BELOW)
