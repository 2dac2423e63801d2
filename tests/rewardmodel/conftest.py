from tests.training.conftest import (  # noqa: F401  (fixtures shared with the training tests)
    _fresh_scorers,
    artifacts,
    run_on_commit,
    tiny_policy,
    tiny_rm_base,
)
