import pytest


@pytest.fixture(autouse=True)
def artifacts(settings, tmp_path):
    """Each test trains into its own folder."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR.mkdir()
    return settings.ARTIFACTS_DIR


@pytest.fixture(autouse=True)
def _fresh_scorers():
    from rewardmodel.scorers import scorer_cache_clear

    scorer_cache_clear()
    yield
    scorer_cache_clear()


@pytest.fixture(scope="session")
def tiny_rm_base(tmp_path_factory):
    """A random decoder reward model sharing the tiny policy's vocabulary."""
    pytest.importorskip("torch")
    from rlhf.ppo.tiny import build_tiny_reward_model

    return build_tiny_reward_model(tmp_path_factory.mktemp("rm_base"), hidden=32)


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory):
    pytest.importorskip("torch")
    from rlhf.ppo.tiny import build_tiny_policy

    return build_tiny_policy(tmp_path_factory.mktemp("policy"), hidden=32)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what a block queued with transaction.on_commit (the eager Celery task) at its end."""

    def _ctx():
        return django_capture_on_commit_callbacks(execute=True)

    return _ctx
