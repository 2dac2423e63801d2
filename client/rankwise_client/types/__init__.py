"""Typed objects for what the API returns (see ``base.ApiObject``)."""

from rankwise_client.types.base import ApiObject
from rankwise_client.types.projects import (
    AgreementReport,
    AnnotatorAgreement,
    AuditEvent,
    Completion,
    ImportJob,
    ImportResult,
    Judgement,
    Member,
    Project,
    Prompt,
    User,
)
from rankwise_client.types.snapshots import Snapshot, SnapshotFile
from rankwise_client.types.tasks import (
    Submitted,
    Task,
    TaskCompletion,
    ranking_from_letters,
    ranking_in_letters,
)
from rankwise_client.types.training import (
    GenerationJob,
    MetricPoint,
    Policy,
    RewardModel,
    RunProgress,
    Sample,
    TrainingRun,
)
from rankwise_client.types.webhooks import Webhook, WebhookDelivery

__all__ = [
    "AgreementReport",
    "AnnotatorAgreement",
    "ApiObject",
    "AuditEvent",
    "Completion",
    "GenerationJob",
    "ImportJob",
    "ImportResult",
    "Judgement",
    "Member",
    "MetricPoint",
    "Policy",
    "Project",
    "Prompt",
    "RewardModel",
    "RunProgress",
    "Sample",
    "Snapshot",
    "SnapshotFile",
    "Submitted",
    "Task",
    "TaskCompletion",
    "TrainingRun",
    "User",
    "Webhook",
    "WebhookDelivery",
    "ranking_from_letters",
    "ranking_in_letters",
]  # fmt: skip
